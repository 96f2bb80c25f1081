"""Scoring of localising models: FROC (object-CXR rule), COCO mAP, Dice/IoU, and their reports."""
