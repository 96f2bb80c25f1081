"""Localisation: detection (torchvision detectors) and segmentation (a U-Net) trained from the
same build shards as the classifiers, by the same loop (`trainer.train`) through `task.LocTask`,
and their scoring: FROC (object-CXR rule), COCO mAP, Dice/IoU, and their reports.

Training modules: targets (boxes, labels and per-class masks from a sample's objects and
instance map), crops (random crops at full resolution, object crops oversampled), samples (the
shard stream of images with their objects), joint_augment (one Kornia transform for image, mask
and boxes), detector (Faster R-CNN / RetinaNet / FCOS over ResNet-FPN), segmenter (smp U-Net,
Dice + focal), task (the interface the loop calls), evaluation (`radiopaque evaluate` for them).
"""
