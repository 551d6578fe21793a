"""``graft adapters merge``: fold an adapter into the base weights, a plain model any engine loads.

The merged model is saved in the prepared model's dtype, beside a staging directory that is
renamed into place only when complete. :func:`merged_copy` keeps one such copy per adapter build
in the workspace cache, for the gateway's vLLM servers of merged adapters on a CPU.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from pathlib import Path

from graftlm.core.errors import ArtifactError, InputError
from graftlm.core.settings import Settings
from graftlm.core.workspace import Workspace, sync_tree, fsync_path
from graftlm.tuning.adapter import open_adapter
from graftlm.tuning.methods import method_of

COMPLETE = ".complete"  # written last into a merged copy: the copy is whole


def merge_adapter(name: str, out: Path, settings: Settings, workspace: Workspace, *,
                  force: bool = False, dtype: str | None = None) -> Path:
    """Fold adapter ``name`` into the base weights and save a plain model to ``out``, in
    ``dtype`` (default: the prepared model's)."""
    import torch

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; the merged model is a folder of files. Name a "
                         "new or empty folder.")
    if out.exists() and any(out.iterdir()) and not force:
        raise ArtifactError(f"{out} is not empty; pass --force to replace it.")
    model, tokenizer, card = open_adapter(name, settings, workspace)
    model = method_of(card).merge(model, name)  # what cannot be merged is refused here
    merged = model.to(getattr(torch, dtype or settings.models.dtype))
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


def merged_copy(name: str, build: str, settings: Settings, workspace: Workspace, *,
                report: Callable[[str], None] | None = None) -> Path:
    """The merged copy of build ``build`` (its manifest hash) of adapter ``name``, made once
    under ``<home>/cache/merged/``; copies of the adapter's earlier builds are removed.

    The copy is float32, the dtype a CPU without bf16 arithmetic computes in, so its answers
    are those of the base model plus the adapter in float32, not of a rounded merge."""
    root = workspace.home / "cache" / "merged"
    out = root / f"{name}-{build}"
    root.mkdir(parents=True, exist_ok=True)
    # One merger at a time (two gateways starting at once would write the same folder), and a
    # mark written last: a config.json alone can be all a killed merge left.
    with open(root / f".{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / COMPLETE).is_file():
            return out
        for stale in [*root.glob(f"{name}-*"), *root.glob(f".{name}-*.partial")]:
            if stale.name.lstrip(".").removesuffix(".partial").count("-") == \
                    name.count("-") + 1:  # not another adapter's "name-x-..."
                shutil.rmtree(stale, ignore_errors=True)
        if report is not None:
            report(f"adapter '{name}': merging it into a copy of the base weights for its own "
                   "vLLM server (once per adapter build)")
        merge_adapter(name, out, settings, workspace, force=True, dtype="float32")
        sync_tree(out)
        (out / COMPLETE).write_text(build)
        fsync_path(out / COMPLETE)
        fsync_path(out)
        return out
