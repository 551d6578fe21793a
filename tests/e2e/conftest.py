"""What the end-to-end tests share: running the real `graft` command, and a workspace that
reuses the one prepared base model (imported by the test modules, like tests/conftest.py)."""

import os
import subprocess
import sys
import traceback
from dataclasses import dataclass

from tests.conftest import SHARED_HOME


@dataclass
class Ran:
    """What a `graft` run left: its exit status and what it wrote (like CompletedProcess)."""

    returncode: int
    stdout: str
    stderr: str


def graft(*args, home=SHARED_HOME, env=None, input=None, fresh=False) -> Ran:
    """Run `graft ARGS` against the workspace ``home``.

    By default in this process, through typer's runner over the same app the console script
    calls: torch, transformers and the embedder are then imported once per session instead of
    once a command (about 8 s each here). ``fresh=True`` starts a new process instead, for what
    only a process shows (a first import, Ray's or Milvus' clients, a cold start).
    """
    env = {"GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1", **(env or {})}
    if fresh:
        done = subprocess.run([sys.executable, "-m", "graftlm.cli", *args], capture_output=True,
                              text=True, env={**os.environ, **env}, input=input, timeout=900)
        return Ran(done.returncode, done.stdout, done.stderr)
    from typer.testing import CliRunner

    from graftlm.cli import app

    result = CliRunner().invoke(app, list(args), env=env, input=input)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # What escaped the CLI's error edge would have been a traceback on a terminal.
        stderr += "".join(traceback.format_exception(result.exception))
    return Ran(result.exit_code, result.stdout, stderr)


def home_with_model(tmp_path_factory, name: str):
    """A workspace that shares the prepared base model but keeps its artifacts to itself."""
    prepared = graft("models", "prepare", home=SHARED_HOME)
    assert prepared.returncode == 0, prepared.stderr
    home = tmp_path_factory.mktemp(name)
    (home / "models").symlink_to(os.path.join(SHARED_HOME, "models"))
    return home


_BUILT: dict[str, object] = {}  # the one home with 'tickets' and 'docs', per test session


def home_with_tickets_and_docs(tmp_path_factory, name: str):
    """A workspace sharing the prepared model, with the adapter 'tickets' (10 steps on the
    example tickets) and the index 'docs' (the example documents). They are built once per
    session and copied into each module's own home, so no module sees another's changes."""
    import shutil
    from pathlib import Path

    if "home" not in _BUILT:
        root = Path(__file__).resolve().parents[2]
        built = home_with_model(tmp_path_factory, "tickets-and-docs")
        trained = graft("train", str(root / "examples/train/support_tickets.jsonl"), "--name",
                        "tickets", "--max-steps", "10", "--lr", "1e-3", home=str(built))
        assert trained.returncode == 0, trained.stderr
        indexed = graft("index", "build", str(root / "examples/docs"), "--name", "docs",
                        home=str(built))
        assert indexed.returncode == 0, indexed.stderr
        _BUILT["home"] = built
    home = home_with_model(tmp_path_factory, name)
    for kind in ("adapters", "indexes"):
        shutil.copytree(Path(_BUILT["home"]) / kind, home / kind)
    return home
