"""The workspace: named artifacts (prepared models, indexes, adapters) under one home directory.

Every artifact is a directory ``<home>/<kind>/<name>/`` holding a ``manifest.json`` that makes it
self-describing. Writes are atomic: an artifact is built in a staging directory beside its final
place and renamed into it only once complete, so a failed or interrupted write leaves the previous
version intact and loadable. The workspace knows nothing about what an artifact contains.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graftlm.errors import (AdapterNotFoundError, ArtifactError, ArtifactNotFoundError,
                            IndexNotFoundError, InputError)

MANIFEST = "manifest.json"
_SINGULAR = {"indexes": "index", "adapters": "adapter", "models": "model"}
_NOT_FOUND = {"indexes": IndexNotFoundError, "adapters": AdapterNotFoundError}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Artifact:
    """One artifact on disk and its manifest."""

    kind: str
    name: str
    path: Path
    manifest: dict[str, Any]


class Workspace:
    """Named artifacts of each kind under ``home``."""

    def __init__(self, home: Path):
        self.home = Path(home).expanduser()

    def path(self, kind: str, name: str) -> Path:
        """Where artifact ``name`` of ``kind`` lives (whether or not it exists)."""
        return self.home / kind / validate_name(name)

    def exists(self, kind: str, name: str) -> bool:
        return (self.path(kind, name) / MANIFEST).is_file()

    def get(self, kind: str, name: str) -> Artifact:
        """The artifact, or :class:`ArtifactNotFoundError` listing the ones that exist."""
        path = self.path(kind, name)
        if not (path / MANIFEST).is_file():
            known = ", ".join(a.name for a in self.list(kind)) or "none yet"
            noun = _SINGULAR.get(kind, kind)
            missing = _NOT_FOUND.get(kind, ArtifactNotFoundError)
            raise missing(f"no {noun} named '{name}' in {self.home / kind}; "
                                        f"available: {known}.")
        return Artifact(kind, name, path, read_manifest(path))

    def list(self, kind: str) -> list[Artifact]:
        """Complete artifacts of ``kind``, by name; staging leftovers are not listed."""
        root = self.home / kind
        if not root.is_dir():
            return []
        found = []
        for child in sorted(root.iterdir()):
            if child.name.startswith(".") or not (child / MANIFEST).is_file():
                continue
            try:
                found.append(Artifact(kind, child.name, child, read_manifest(child)))
            except ArtifactError:
                continue
        return found

    @contextmanager
    def writer(self, kind: str, name: str, *, replace: bool = False) -> Iterator[Path]:
        """Build an artifact in a staging directory; publish it atomically on success.

        The body writes files into the yielded directory, including its manifest (see
        :func:`write_manifest`). On an exception the staging directory is removed and any
        previous artifact of that name is untouched.

        Raises:
            ArtifactError: the name is taken and ``replace`` is false.
        """
        final = self.path(kind, name)
        if final.exists() and not replace:
            raise ArtifactError(f"{final} already exists; pass --force to replace it.")
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.parent / f".staging-{name}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            yield staging
            if not (staging / MANIFEST).is_file():
                raise ArtifactError(f"internal: {kind} '{name}' was written without a manifest.")
            _publish(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def remove(self, kind: str, name: str) -> Path:
        """Delete an artifact; raises :class:`ArtifactNotFoundError` if it does not exist."""
        artifact = self.get(kind, name)
        trash = artifact.path.parent / f".trash-{name}-{uuid.uuid4().hex[:8]}"
        artifact.path.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
        return artifact.path


def validate_name(name: str) -> str:
    """Artifact names are path-safe: letters, digits, '.', '_' and '-', at most 64 characters."""
    if not _NAME.match(name):
        raise InputError(
            f"invalid name {name!r}: use letters, digits, '.', '_' or '-' (at most 64 "
            "characters, starting with a letter or digit)."
        )
    return name


def write_manifest(directory: Path, kind: str, payload: dict[str, Any], *, version: int = 1) -> None:
    """Write ``manifest.json`` with the common header and ``payload``."""
    manifest = {"kind": kind, "format_version": version, "created": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **payload}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactNotFoundError(f"{directory} has no {MANIFEST}; it is not a graftlm artifact.")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is corrupt ({exc}); rebuild the artifact.") from None


def _publish(staging: Path, final: Path) -> None:
    # A rename is atomic on one filesystem; the old version is moved aside first and deleted only
    # after the new one is in place, so at every instant one complete version exists.
    old = None
    if final.exists():
        old = final.parent / f".trash-{final.name}-{uuid.uuid4().hex[:8]}"
        final.rename(old)
    try:
        staging.rename(final)
    except OSError:
        if old is not None:
            old.rename(final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
