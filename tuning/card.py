"""The adapter card: what an adapter was trained from and how, and how well it did.

Recorded in the adapter's ``manifest.json``: the base model and its hash (serving refuses an
adapter for another base), the data's hash and format, the chat template's hash, the
hyperparameters, base and adapter metrics on the held-out split with their history, the
training time and the machine.
"""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import asdict
from pathlib import Path

from graftlm.core.lineage import file_sha256, model_hash
from graftlm.core.settings import Settings
from graftlm.tuning.data import DataReport
from graftlm.tuning.methods import get
from graftlm.tuning.train import TrainResult


def make_card(settings: Settings, base_path, data: Path, report: DataReport, result: TrainResult,
              *, method: dict, tokenizer, train_count: int, eval_count: int) -> dict:
    """The card; ``method`` is :func:`tuning.methods.prepare`'s record of what trained."""
    import torch

    template = tokenizer.chat_template or ""
    return {
        "type": method["name"],
        "method": method,
        "base_model": {"path": str(base_path), "name": Path(str(base_path)).name,
                       "sha256": model_hash(base_path)},
        "data": {"path": str(Path(data).resolve()), "sha256": file_sha256(Path(data)),
                 "format": report.format, "examples": len(report.examples),
                 "train": train_count, "eval": eval_count, "duplicates": len(report.duplicates),
                 "truncated": len(report.truncated)},
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
        "hyperparameters": {**settings.tuning.model_dump(), "full": get(method["name"]).is_model,
                            "peak_learning_rate": settings.tuning.peak_learning_rate},
        "metrics": {"name": result.metric_name, "base": result.base_metric,
                    "base_metrics": result.base_metrics, "adapter_metrics": result.best.metrics,
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
