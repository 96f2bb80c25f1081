"""Errors raised at the configuration edge, before any work starts."""


class ConfigError(ValueError):
    """A bad option: the message names the option, what it got and what is allowed."""

    def __init__(self, option: str, got: object, allowed: str):
        self.option = option
        super().__init__(f"{option}: got {got!r}; allowed: {allowed}")


class ShardError(ValueError):
    """A shard, or one member of it, that a reader refuses: `path` (the shard, relative to its
    build), `key` (the sample; "" for the whole shard) and a one-line `reason`. Readers skip,
    count and log a bad member like a corrupt image; a bad shard path or schema is refused when
    the build is opened."""

    def __init__(self, path: str, key: str, reason: str):
        self.path, self.key, self.reason = path, key, reason
        where = f"{path}:{key}" if key else path
        super().__init__(f"{where}: {reason}")


def check_out_folder(value: str, option: str = "--out") -> None:
    """Refuse an output folder option that names an existing local file (a usage error, exit 2,
    caught before any work); URLs other than file:// are left to their filesystem."""
    import os

    path = value[len("file://"):] if value.startswith("file://") else value
    if "://" not in path and os.path.isfile(path):
        raise ConfigError(option, value, "a folder (new, or one this command wrote) or an fsspec URL, not a file")
