"""``graft adapters merge``: fold an adapter into the base weights, a plain model any engine loads.

The merged model is saved in the prepared model's dtype, beside a staging directory that is
renamed into place only when complete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from graftlm.errors import ArtifactError
from graftlm.settings import Settings
from graftlm.workspace import Workspace
from tuning.adapter import open_adapter


def merge_adapter(name: str, out: Path, settings: Settings, workspace: Workspace, *,
                  force: bool = False) -> Path:
    """Fold adapter ``name`` into the base weights and save a plain model to ``out``."""
    import torch

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise ArtifactError(f"{out} is not empty; pass --force to replace it.")
    model, tokenizer, _ = open_adapter(name, settings, workspace)
    merged = model.merge_and_unload().to(getattr(torch, settings.models.dtype))
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        merged.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
