"""The workspace: named artifacts (prepared models, indexes, adapters) under one home directory.

Every artifact is a directory ``<home>/<kind>/<name>/`` holding a ``manifest.json`` that makes it
self-describing. Writes are atomic and durable: an artifact is built in a staging directory beside
its final place, flushed to disk (fsync), and renamed into place only once complete, so a failed
or interrupted write leaves the previous version intact and loadable. Publishing takes two renames
(the old version aside, the new one in); a crash between them leaves no artifact under the name,
and the next process to look for it puts the previous version back. One process writes an
artifact at a time (a lock per artifact; a second writer is refused), and a reader that loads
inside :meth:`Workspace.reading` never sees parts of two versions: publishing waits for it.
The workspace knows nothing about what an artifact contains.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graftlm.core.errors import (AdapterNotFoundError, ArtifactError, ArtifactNotFoundError,
                            IndexNotFoundError, InputError)

MANIFEST = "manifest.json"
_SINGULAR = {"indexes": "index", "adapters": "adapter", "models": "model"}
_NOT_FOUND = {"indexes": IndexNotFoundError, "adapters": AdapterNotFoundError}
# An artifact name (also the pattern the gateway's OpenAPI description gives adapter names).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


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
            self._recover_if_idle(kind, name)
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
        for leftover in root.glob(".trash-*"):  # a publish cut short: its previous version
            name = _TRASH.fullmatch(leftover.name)
            if name and not (root / name[1] / MANIFEST).is_file():
                self._recover_if_idle(kind, name[1])
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
            ArtifactError: the name is taken and ``replace`` is false, or another process is
                writing this artifact now.
        """
        final = self.path(kind, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._lock(kind, name, "write", exclusive=True, wait=False) as held:
            if not held:
                raise ArtifactError(f"another process is writing {_SINGULAR.get(kind, kind)} "
                                    f"'{name}' now; wait for it to finish.")
            _recover(final)
            if final.exists() and not replace:
                raise ArtifactError(f"{final} already exists; pass --force to replace it.")
            staging = final.parent / f".staging-{name}-{uuid.uuid4().hex[:8]}"
            staging.mkdir()
            try:
                yield staging
                if not (staging / MANIFEST).is_file():
                    raise ArtifactError(f"internal: {kind} '{name}' was written without a "
                                        "manifest.")
                sync_tree(staging)
                with self._lock(kind, name, "read", exclusive=True, wait=True):
                    _publish(staging, final)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    @contextmanager
    def claim(self, kind: str, name: str, what: str) -> Iterator[None]:
        """Hold ``name`` for a long job that will write it (a training run): a second job
        under the same name is refused at once.

        Raises:
            ArtifactError: another process holds the name.
        """
        with self._lock(kind, name, "run", exclusive=True, wait=False) as held:
            if not held:
                raise ArtifactError(f"another {what} is running for "
                                    f"{_SINGULAR.get(kind, kind)} '{name}' now; wait for it to "
                                    "finish or choose another name.")
            yield

    @contextmanager
    def reading(self, kind: str, name: str) -> Iterator[Artifact]:
        """The artifact, kept from being replaced while the body reads its files."""
        self.path(kind, name).parent.mkdir(parents=True, exist_ok=True)
        with self._lock(kind, name, "read", exclusive=False, wait=True):
            yield self.get(kind, name)

    def remove(self, kind: str, name: str) -> Path:
        """Delete an artifact; raises :class:`ArtifactNotFoundError` if it does not exist."""
        artifact = self.get(kind, name)
        with self._lock(kind, name, "write", exclusive=True, wait=False) as held:
            if not held:
                raise ArtifactError(f"another process is writing {_SINGULAR.get(kind, kind)} "
                                    f"'{name}' now; try again when it has finished.")
            trash = artifact.path.parent / f".trash-{name}-{uuid.uuid4().hex[:8]}"
            with self._lock(kind, name, "read", exclusive=True, wait=True):
                artifact.path.rename(trash)
                (trash / MANIFEST).unlink()  # not a version to recover
            fsync_path(trash.parent)
            shutil.rmtree(trash, ignore_errors=True)
        return artifact.path

    def _recover_if_idle(self, kind: str, name: str) -> None:
        """Put back the previous version of an artifact whose publish was cut short, unless a
        writer holds it now (then it is publishing, not crashed)."""
        if not (self.home / kind).is_dir():
            return
        with self._lock(kind, name, "write", exclusive=True, wait=False) as held:
            if held:
                _recover(self.path(kind, name))

    @contextmanager
    def _lock(self, kind: str, name: str, role: str, *, exclusive: bool,
              wait: bool) -> Iterator[bool]:
        """An advisory lock (``flock``) on ``<kind>/.locks/<name>.<role>``; yields whether it
        is held (only ``wait=False`` can fail to get it)."""
        locks = self.home / kind / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{validate_name(name)}.{role}", "a") as handle:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            try:
                fcntl.flock(handle, mode if wait else mode | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def validate_name(name: str) -> str:
    """Artifact names are path-safe: letters, digits, '.', '_' and '-', at most 64 characters."""
    if not _NAME.fullmatch(name):  # not match: "$" would let a trailing newline through
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
        raise ArtifactNotFoundError(
            f"{directory} has no {MANIFEST}; it is not a graftlm artifact.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is corrupt ({exc}); rebuild the artifact.") from None


_TRASH = re.compile(r"\.trash-(.+)-[0-9a-f]{8}")


def _publish(staging: Path, final: Path) -> None:
    # A rename is atomic on one filesystem; the old version is moved aside first and deleted only
    # after the new one is in place and on disk. A crash between the two renames leaves the old
    # version under .trash-<name>-*, where _recover finds it.
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
    fsync_path(final.parent)
    if old is not None:
        (old / MANIFEST).unlink(missing_ok=True)  # no longer a version to recover
        shutil.rmtree(old, ignore_errors=True)


def _recover(final: Path) -> None:
    """Clear what interrupted writes left beside ``final`` (its writer lock held): a staging
    directory is dropped; a version moved aside is put back if nothing is under the name, else
    dropped."""
    for leftover in sorted(final.parent.glob(f".trash-{final.name}-*"),
                           key=lambda p: p.stat().st_mtime, reverse=True):
        if not _TRASH.fullmatch(leftover.name) or _TRASH.fullmatch(leftover.name)[1] != \
                final.name:
            continue
        if not (final / MANIFEST).is_file() and (leftover / MANIFEST).is_file():
            shutil.rmtree(final, ignore_errors=True)
            leftover.rename(final)
            fsync_path(final.parent)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in final.parent.glob(f".staging-{final.name}-*"):
        if re.fullmatch(rf"\.staging-{re.escape(final.name)}-[0-9a-f]{{8}}", leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)


def sync_tree(root: Path) -> None:
    """Flush every file under ``root``, and the directories, to disk."""
    for directory, _dirs, files in os.walk(root):
        for name in files:
            fsync_path(Path(directory) / name)
        fsync_path(Path(directory))


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
