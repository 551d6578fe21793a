"""Training checkpoints: plain tensors, the last few kept, resumed only into the same run.

A checkpoint is ``<run>/step-<n>/state.pt``: the trainable weights, the optimizer and schedule
state, the loop's counters and evaluations, and the random state (torch's generator and the
LoRA dropout masks' numpy generator), so a resumed run continues the same random streams. It
holds only tensors, numbers, strings and containers of them, and is loaded with
``torch.load(weights_only=True)``, which runs no code from the file. It is written to a
temporary directory, flushed to disk and renamed into place; the newest ``keep`` are kept.

Resuming reads the newest checkpoint that loads — a torn one (a crash mid-write on a filesystem
without ordered writes, a full disk) is reported and skipped for the one before — and refuses
one made from other data or other hyperparameters, naming what changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from graftlm.core.errors import TrainingError
from graftlm.core.settings import TuningSettings
from graftlm.core.workspace import fsync_path

FORMAT = 1
# The settings that shape the training trajectory: a resume with any of them changed would
# continue a different run.
TRAJECTORY = ("rank", "alpha", "dropout", "learning_rate", "full_learning_rate", "epochs",
              "max_steps", "batch_size", "max_length", "packing", "warmup_ratio", "seed",
              "target_modules", "method", "targets", "spectrum_share", "prefix_tokens")


def fingerprint(encoded: Sequence, settings: TuningSettings, plain: bool) -> dict:
    """What a checkpoint may only be resumed with: a hash of the encoded training data, and the
    trajectory's hyperparameters."""
    digest = hashlib.sha256()
    for example in encoded:
        digest.update(json.dumps([example.input_ids, example.labels]).encode())
    dumped = settings.model_dump(mode="json")
    return {"data_sha256": digest.hexdigest()[:16], "full": plain,
            "hyperparameters": {k: dumped[k] for k in TRAJECTORY if k in dumped}}


def save(run: Path, step: int, payload: dict, keep: int) -> Path:
    """Write ``payload`` as the checkpoint of ``step`` and drop all but the newest ``keep``."""
    import torch

    final = run / f"step-{step:07d}"
    tmp = run / f".tmp-step-{step:07d}"
    run.mkdir(parents=True, exist_ok=True)
    sweep(run)  # what an interrupted save left
    tmp.mkdir()
    torch.save({"format": FORMAT, **payload}, tmp / "state.pt")
    fsync_path(tmp / "state.pt")
    fsync_path(tmp)
    # The step's older copy (a resumed run saving the same step again) is moved aside, not
    # removed, until the new one is in place: a crash in between leaves one of them whole.
    aside = run / f".old-step-{step:07d}"
    if final.exists():
        final.rename(aside)
    tmp.rename(final)
    fsync_path(run)
    shutil.rmtree(aside, ignore_errors=True)
    for old in checkpoints(run)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def sweep(run: Path) -> None:
    """Remove what interrupted saves left in ``run``: temporary folders, and a step moved aside
    (put back if its replacement never arrived)."""
    for leftover in run.glob(".old-step-*"):
        final = run / leftover.name.removeprefix(".old-")
        if final.exists():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.rename(final)
    for leftover in run.glob(".tmp-step-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def checkpoints(run: Path) -> list[Path]:
    """The run's checkpoints, newest first."""
    if not run.is_dir():
        return []
    return sorted((p for p in run.glob("step-*") if p.is_dir()), reverse=True)


def load(run: Path, expected: dict, note: Callable[[str], None]) -> dict | None:
    """The newest readable checkpoint's payload (None if the run has none).

    Raises:
        TrainingError: the checkpoint was made from other data or hyperparameters, or none of
            the run's checkpoints can be read.
    """
    import pickle

    import torch

    if run.is_dir():
        sweep(run)  # a step moved aside by an interrupted save is a checkpoint again
    found = checkpoints(run)
    for path in found:
        try:
            payload = torch.load(path / "state.pt", weights_only=True, map_location="cpu")
        except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
            note(f"checkpoint {path} cannot be read ({type(exc).__name__}: "
                 f"{str(exc)[:120]}); resuming from the one before it.")
            continue
        if payload.get("format") != FORMAT:
            note(f"checkpoint {path} has another format; resuming from the one before it.")
            continue
        _same_run(payload["fingerprint"], expected, path)
        return payload
    if found:
        raise TrainingError(f"no checkpoint in {run} can be read; start again without "
                            "--resume.")
    return None


def _same_run(saved: dict, expected: dict, path: Path) -> None:
    if saved.get("data_sha256") != expected["data_sha256"]:
        raise TrainingError(f"the training data changed since the checkpoint in {path} was "
                            "made; resuming would mix two runs. Start again without --resume, "
                            "or train on the data it was made from.")
    if saved.get("full") != expected["full"]:
        raise TrainingError(f"the checkpoint in {path} is of a "
                            f"{'run training the weights themselves' if saved.get('full') else 'adapter run'}; resume "
                            "it the same way, or start again without --resume.")
    old, new = saved.get("hyperparameters", {}), expected["hyperparameters"]
    changed = [f"{k} {old.get(k)!r} → {new.get(k)!r}" for k in sorted(set(old) | set(new))
               if old.get(k) != new.get(k)]
    if changed:
        raise TrainingError(f"the hyperparameters changed since the checkpoint in {path} was "
                            f"made ({'; '.join(changed)}); resume with the same ones, or start "
                            "again without --resume.")

