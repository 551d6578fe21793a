"""The one error hierarchy of graftlm.

Library code raises these; it never prints or exits. Exactly two edges translate them: the CLI
(a message on stderr and a non-zero exit) and, later, the HTTP app (an OpenAI-style error body).
Each error subclasses the builtin it stands in for, so callers that catch ``ValueError`` or
``FileNotFoundError`` keep working.
"""

from __future__ import annotations

from pathlib import Path


class GraftError(Exception):
    """Base of every error graftlm raises on purpose. ``str(err)`` is the user-facing message."""

    exit_code: int = 1


class ConfigError(GraftError, ValueError):
    """A setting has a bad value, an unknown key, or its source file cannot be read."""

    exit_code = 2


class InputError(GraftError, ValueError):
    """User input (an argument, a file, stdin) is empty, too large, or cannot be decoded."""

    exit_code = 2


class DataFormatError(GraftError, ValueError):
    """A data file is malformed; the message names the file and, where known, the line."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = Path(path) if path is not None else None
        self.line = line


class DocumentLoadError(GraftError, ValueError):
    """A document cannot be read: missing, binary, not UTF-8, corrupt, or too large."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class ArtifactError(GraftError, RuntimeError):
    """A workspace artifact is missing, incomplete or of an unknown format."""


class ArtifactNotFoundError(ArtifactError, FileNotFoundError):
    """A named artifact does not exist; the message lists the ones that do."""


class IndexNotFoundError(ArtifactNotFoundError):
    """No index of that name in the workspace; the message lists the indexes there are."""


class AdapterNotFoundError(ArtifactNotFoundError):
    """No adapter of that name in the workspace; the message lists the adapters there are."""


class TrainingError(GraftError, RuntimeError):
    """Training cannot go on: the loss diverged, or a checkpoint does not fit the run."""


class BackendUnavailableError(GraftError, ImportError):
    """An optional package or model file is not installed; the message gives the install command."""
