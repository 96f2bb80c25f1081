"""Real labelled data in the formats it comes in: COCO JSON, object-CXR CSV, YOLO txt.

`read_labelled(path, root=None)` (trainer.labelled.read) picks the reader; each returns a
`LabelledSet` of `LabelledImage` records (trainer.labelled.record) and raises `LabelError`
(file, line or JSON path, reason) on bad input. `loc_dataset.LabelledLocDataset` serves a set
as the samples the localisation loaders yield, so evaluation scores real films like builds.
"""
