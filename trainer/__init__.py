"""Trainer: shard streaming -> models -> (distributed) training -> evaluation and reports.

    radiopaque train --data BUILD --model resnet18 --epochs N --out RUN_DIR [--val BUILD]
    radiopaque train ... --executor ray --workers 2 [--gpus-per-worker 1] [--ray-address ADDR]
    radiopaque train --data REAL_FOLDER --init RUN_DIR/best.pt --out FT_DIR
    radiopaque evaluate --checkpoint RUN_DIR/best.pt --data BUILD|FOLDER|CSV --out EVAL_DIR
        [--negatives FOLDER|CSV [--negatives-split test]]
    radiopaque experiment --synthetic BUILD --real FOLDER|CSV --out EXP_DIR --steps N
    radiopaque train --data BUILD --task detect|segment --model fasterrcnn_resnet18|unet_resnet18 [--crop PX] ...

Modules: config (frozen TrainConfig/EvalConfig), split (held-out patients), stream (builds; the
rank rule), dali_stream (builds through DALI), plain (folders, CSV), data (opening any of them as
a loader), augment (Kornia, MixUp), rng (explicit seeds), models (torchvision, 1 channel),
checkpoint (save, load), train (loop), distributed (local / Ray Train), metrics (numpy), evaluate
(JSON + PNGs, false positives on real negatives), experiment (three arms), cli; localise/
(detection and segmentation: the training half and the scoring) and labelled/ (real labelled
formats).
"""
