"""Errors raised at the configuration edge, before any work starts."""


class ConfigError(ValueError):
    """A bad option: the message names the option, what it got and what is allowed."""

    def __init__(self, option: str, got: object, allowed: str):
        self.option = option
        super().__init__(f"{option}: got {got!r}; allowed: {allowed}")


def check_out_folder(value: str, option: str = "--out") -> None:
    """Refuse an output folder option that names an existing local file (a usage error, exit 2,
    caught before any work); URLs other than file:// are left to their filesystem."""
    import os

    path = value[len("file://"):] if value.startswith("file://") else value
    if "://" not in path and os.path.isfile(path):
        raise ConfigError(option, value, "a folder (new, or one this command wrote) or an fsspec URL, not a file")
