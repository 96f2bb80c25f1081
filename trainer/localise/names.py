"""The localising tasks and their model names: plain data, importable without torch (the CLI
builds its parser from these)."""

LOC_TASKS = ("detect", "segment")
BACKBONES = ("resnet18", "resnet34", "resnet50")
DETECT_MODELS = tuple(f"{head}_{b}" for head in ("fasterrcnn", "retinanet", "fcos") for b in BACKBONES)
SEGMENT_MODELS = tuple(f"unet_{b}" for b in BACKBONES)
MODELS_BY_TASK = {"detect": DETECT_MODELS, "segment": SEGMENT_MODELS}


def backbone_of(name: str) -> str:
    """The classifier a detector or U-Net name is built on ("fasterrcnn_resnet18" -> "resnet18")."""
    return name.rsplit("_", 1)[-1]
