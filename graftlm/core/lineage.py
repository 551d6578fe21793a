"""Lineage: content hashes that tie an answer back to the files that produced it.

A prepared base model, an adapter's training data, an index's source files and every artifact's
manifest are identified by SHA-256, so serving can refuse an adapter trained on another base
model and every response can name the exact builds that answered.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from graftlm.core.workspace import MANIFEST, Artifact


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_hash(path: Path | str) -> str | None:
    """A base model's identity: the source hash its manifest records (a prepared model), else
    the hash of its first weights file; ``None`` for a hub id or a directory without weights."""
    path = Path(str(path))
    manifest = path / MANIFEST
    if manifest.is_file():
        recorded = json.loads(manifest.read_text()).get("source_sha256")
        if recorded:
            return recorded
    weights = sorted(path.glob("*.safetensors")) if path.is_dir() else []
    return file_sha256(weights[0]) if weights else None


def version_of(artifact: Artifact) -> dict:
    """Name, creation time and a short hash of the manifest: which build of an artifact."""
    raw = (artifact.path / MANIFEST).read_bytes()
    return {"name": artifact.name, "created": artifact.manifest.get("created"),
            "sha256": hashlib.sha256(raw).hexdigest()[:12]}
