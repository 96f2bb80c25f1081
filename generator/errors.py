"""Errors raised at the configuration edge, before any work starts."""


class ConfigError(ValueError):
    """A bad option: the message names the option, what it got and what is allowed."""

    def __init__(self, option: str, got: object, allowed: str):
        self.option = option
        super().__init__(f"{option}: got {got!r}; allowed: {allowed}")
