"""Train an adapter end to end: validate, split, train, and publish it with its card.

The published artifact is ``adapters/<name>/`` in the workspace: the PEFT files exactly as peft
writes them (``adapter_config.json``, ``adapter_model.safetensors``: loadable as-is by peft and by
vLLM), or a full model for ``--full``, plus ``manifest.json`` holding the card: base model and
its hash, data hash and format, chat template hash, hyperparameters, base and adapter metrics on
the held-out split, time and machine. A run checkpoints under ``runs/<name>/`` and only publishes
when it finishes, so an interrupted run leaves no half-written adapter under the final name.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from graftlm.errors import ArtifactError, DataFormatError, InputError
from graftlm.lineage import file_sha256, model_hash
from graftlm.loader import load_base
from graftlm.padding import pad_id
from graftlm.settings import Settings
from graftlm.workspace import Workspace, write_manifest
from tuning.data import DataReport, FieldMap, Format, check
from tuning.lora import with_lora
from tuning.train import TrainResult, split, train

KIND = "adapters"
MAX_LISTED_PROBLEMS = 20


def check_data(path: Path, tokenizer, settings: Settings, *, fmt: Format | None = None,
               fields: FieldMap | None = None) -> DataReport:
    return check(path, tokenizer, max_length=settings.tuning.max_length, fmt=fmt, fields=fields)


def require_clean(report: DataReport) -> None:
    """Bad files never start a training run: raise with every problem and its line."""
    if report.ok:
        return
    shown = "\n".join(f"  {p}" for p in report.problems[:MAX_LISTED_PROBLEMS])
    more = len(report.problems) - MAX_LISTED_PROBLEMS
    tail = f"\n  … and {more} more" if more > 0 else ""
    raise DataFormatError(f"{len(report.problems)} problem(s); fix them and run again "
                          f"(`graft train --check {report.path}` lists them all):\n{shown}{tail}",
                          path=report.path)


def train_adapter(data: Path, name: str, settings: Settings, workspace: Workspace, *,
                  eval_file: Path | None = None, fmt: Format | None = None,
                  fields: FieldMap | None = None, full: bool = False, force: bool = False,
                  resume: bool = False, progress: Callable[[dict], None] | None = None,
                  qlora: bool = False) -> tuple[Path, dict]:
    """Validate ``data``, train, and publish adapter ``name``; returns (path, card)."""
    if workspace.exists(KIND, name) and not force:
        raise ArtifactError(f"an adapter named '{name}' already exists; pass --force to "
                            "replace it.")
    if full and qlora:
        raise InputError("--full and --qlora exclude each other: QLoRA trains an adapter on a "
                         "frozen 4-bit base.")
    model, tokenizer, base_path = load_base(settings.models, workspace, for_training=True,
                                            four_bit=qlora)
    if qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    report = check_data(data, tokenizer, settings, fmt=fmt, fields=fields)
    require_clean(report)
    if eval_file is not None:
        held_report = check_data(eval_file, tokenizer, settings, fmt=fmt, fields=fields)
        require_clean(held_report)
        train_set, held = report.examples, held_report.examples[:settings.tuning.eval_max]
    else:
        train_set, held = split(report.examples, settings.tuning.eval_fraction,
                                settings.tuning.eval_max, settings.tuning.seed)
    if not train_set:
        raise DataFormatError("leaves no examples to train on after the held-out split",
                              path=data)
    if not full:
        model = with_lora(model, settings.tuning)
    runs = workspace.home / "runs" / name
    result = train(model, tokenizer, train_set, held, settings.tuning, full=full,
                   checkpoint=runs, resume=resume, progress=progress)
    if not result.main_process:  # under `accelerate launch`, the main process publishes
        return workspace.path(KIND, name), {}
    card = make_card(settings, base_path, data, report, result, full=full,
                     tokenizer=tokenizer, train_count=len(train_set), eval_count=len(held))
    card["hyperparameters"]["qlora"] = qlora
    card["data"]["fields"] = asdict(fields) if fields else None
    with workspace.writer(KIND, name, replace=True) as staging:
        result.model.save_pretrained(staging)
        if full:
            tokenizer.save_pretrained(staging)
        write_manifest(staging, "adapter", {"name": name, **card})
    shutil.rmtree(runs, ignore_errors=True)
    return workspace.path(KIND, name), card


def make_card(settings: Settings, base_path, data: Path, report: DataReport, result: TrainResult,
              *, full: bool, tokenizer, train_count: int, eval_count: int) -> dict:
    import torch

    template = tokenizer.chat_template or ""
    return {
        "type": "full" if full else "lora",
        "base_model": {"path": str(base_path), "name": Path(str(base_path)).name,
                       "sha256": model_hash(base_path)},
        "data": {"path": str(Path(data).resolve()), "sha256": file_sha256(Path(data)),
                 "format": report.format, "examples": len(report.examples),
                 "train": train_count, "eval": eval_count, "duplicates": len(report.duplicates),
                 "truncated": len(report.truncated)},
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
        "hyperparameters": {**settings.tuning.model_dump(), "full": full},
        "metrics": {"name": result.metric_name, "base": result.base_metric,
                    "adapter": result.best.metric, "base_eval_loss": result.base_loss,
                    "adapter_eval_loss": result.best.loss, "best_step": result.best.step,
                    "history": [asdict(p) for p in result.history]},
        "training": {"steps": result.steps, "seconds": result.seconds,
                     "tokens": result.train_tokens, "stopped_early": result.stopped_early},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__,
                    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                    else "cpu"},
    }


def open_adapter(name: str, settings: Settings, workspace: Workspace):
    """The base model with adapter ``name`` on top, refusing one trained for another base."""
    from peft import PeftModel

    model, tokenizer, base_path = load_base(settings.models, workspace)
    artifact = fitting_adapter(name, base_path, workspace)
    return PeftModel.from_pretrained(model, artifact.path), tokenizer, artifact.manifest


def fitting_adapter(name: str, base_path, workspace: Workspace):
    """Adapter ``name``'s artifact, refusing one trained for another base model or a full
    fine-tune (which is a model of its own, not an adapter)."""
    artifact = workspace.get(KIND, name)
    card = artifact.manifest
    expected, actual = card.get("base_model", {}).get("sha256"), model_hash(base_path)
    if expected and actual and expected != actual:
        raise ArtifactError(
            f"adapter '{name}' was trained on a base model with hash {expected[:12]}…, but the "
            f"configured base model ({base_path}) has hash {actual[:12]}…; set models.base to "
            f"the model it was trained on ({card['base_model'].get('path')}).")
    if card.get("type") == "full":
        raise ArtifactError(f"'{name}' is a full fine-tune, not an adapter; load it directly "
                            f"from {artifact.path}.")
    return artifact


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


def evaluate_adapter(name: str, data: Path, settings: Settings, workspace: Workspace, *,
                     fmt: Format | None = None, fields: FieldMap | None = None) -> dict:
    """Base model and adapter side by side on the same examples: metric and eval loss."""
    from tuning.evaluate import answer_budget, generate_answers, score
    from tuning.train import eval_loss

    model, tokenizer, card = open_adapter(name, settings, workspace)
    if fields is None and card.get("data", {}).get("fields"):
        fields = FieldMap(**card["data"]["fields"])
    report = check_data(data, tokenizer, settings, fmt=fmt, fields=fields)
    require_clean(report)
    examples = report.examples
    targets = [ex.target for ex in examples]
    budget = answer_budget(tokenizer, targets)
    from tuning.data import encode

    encoded = [encode(ex, tokenizer, settings.tuning.max_length) for ex in examples]
    pad = pad_id(tokenizer)
    out = {"adapter": name, "data": str(data), "examples": len(examples)}
    with model.disable_adapter():
        base_answers = generate_answers(model, tokenizer, examples, max_new_tokens=budget)
        base_loss = eval_loss(model, encoded, pad, settings.tuning.batch_size)
    tuned_answers = generate_answers(model, tokenizer, examples, max_new_tokens=budget)
    tuned_loss = eval_loss(model, encoded, pad, settings.tuning.batch_size)
    metric, base_score = score(base_answers, targets)
    _, tuned_score = score(tuned_answers, targets, metric)
    out.update({"metric": metric, "base": round(base_score, 4), "adapter": round(tuned_score, 4),
                "base_loss": round(base_loss, 4), "adapter_loss": round(tuned_loss, 4),
                "samples": [{"line": ex.line, "target": t, "base": b, "adapter": a}
                            for ex, t, b, a in list(zip(examples, targets, base_answers,
                                                        tuned_answers))[:5]]})
    return out


__all__ = ["KIND", "check_data", "evaluate_adapter", "fitting_adapter",
           "merge_adapter", "open_adapter", "require_clean", "train_adapter"]
