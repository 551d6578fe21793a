"""The trainer under `accelerate launch` with two CPU processes (data parallel, gloo)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROWS = [("play some jazz music", "PlayMusic"), ("book a table for two", "BookRestaurant"),
        ("weather in paris", "GetWeather"), ("rate this novel five stars", "RateBook")]
TRAIN = ["train", "data.jsonl", "--input-field", "text", "--target-field", "label",
         "--max-steps", "6", "--batch-size", "4", "--lr", "0.01"]


def _run(launcher: list[str], name: str, cwd: Path, env: dict) -> dict:
    result = subprocess.run([*launcher, "-m", "graftlm.cli", *TRAIN, "--name", name],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("trained lora adapter") == 1  # only the main process reports
    return json.loads((cwd / "home" / "adapters" / name / "manifest.json").read_text())


def _shapes(path: Path) -> dict:
    from safetensors.torch import load_file

    return {k: tuple(v.shape) for k, v in load_file(path / "adapter_model.safetensors").items()}


def test_two_processes_train_the_same_adapter_shape(tmp_path, tiny_model_dir):
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable))
    assert accelerate, "accelerate is a dependency of graftlm and installs its launcher"
    (tmp_path / "data.jsonl").write_text(
        "".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in ROWS * 8))
    env = {**os.environ, "GRAFT_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1",
           "GRAFT_MODELS__BASE": str(tiny_model_dir)}
    single = _run([sys.executable], "single", tmp_path, env)
    # accelerate's --multi_gpu launcher is torchrun; without GPUs it runs processes on gloo.
    double = _run([accelerate, "launch", "--multi_gpu", "--num_processes", "2",
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"],
                  "double", tmp_path, env)

    adapters = tmp_path / "home" / "adapters"
    assert _shapes(adapters / "single") == _shapes(adapters / "double")
    assert double["training"]["steps"] == single["training"]["steps"] == 6
    # Each step of the two-process run saw two batches: about twice the tokens.
    assert double["training"]["tokens"] > 1.5 * single["training"]["tokens"]
    assert double["metrics"]["adapter_eval_loss"] < double["metrics"]["base_eval_loss"]
    assert not (tmp_path / "home" / "runs" / "double").exists()
