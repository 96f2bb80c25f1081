"""Errors of untrusted trainer inputs (no heavy imports, so the CLI can map them to exit codes)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, not a torch file, holding code (a pickle
    payload that `weights_only=True` refuses) or missing what a radiopaque run saves. One line
    naming the file and why."""

    def __init__(self, path: object, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: not a usable radiopaque checkpoint: {reason}")


class DataError(ValueError):
    """Labelled data that cannot be used as given (a folder without class subfolders, CSV rows
    that name no file, labels outside the model's classes). `reason` says what was found; the
    edge that knows the option (`trainer.data`) turns it into a ConfigError naming it."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
