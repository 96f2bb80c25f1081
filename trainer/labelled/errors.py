"""The one error of the labelled-data readers; no heavy imports, so the CLI can catch it cheaply."""

from __future__ import annotations


class LabelError(ValueError):
    """A labelled file that cannot be used: the file, where in it (line, row or JSON path), why.

    Its message is one line: `FILE, WHERE: REASON`. The CLI maps it to exit code 1 (bad input).
    """

    def __init__(self, file: str, where: str | int | None, reason: str):
        self.file, self.where, self.reason = str(file), where, reason
        at = "" if where is None else (f", line {where}" if isinstance(where, int) else f", {where}")
        super().__init__(f"{file}{at}: {reason}")
