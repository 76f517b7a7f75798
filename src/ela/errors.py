"""The project's own error types: every failure a user can cause names its cause."""

from __future__ import annotations

from pathlib import Path


class ElaError(Exception):
    """Base class of every error `ela` raises on purpose."""


class DataFormatError(ElaError):
    """A data file could not be read: names the file, where in it, and what was wrong."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None):
        self.path = str(path)
        self.problem = problem
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class LayoutError(ElaError):
    """A skeleton layout is inconsistent, unknown, or does not match the data."""


class CheckpointError(ElaError):
    """A model checkpoint is missing, malformed, or disagrees with the data."""
