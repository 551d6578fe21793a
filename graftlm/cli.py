"""The ``graft`` command: the Typer root, its one error edge, and the composition of the
sub-apps each stage contributes.

This module only composes; what the commands share lives in :mod:`graftlm.core.commands`, which every
stage CLI imports, so imports run one way: root → stage CLIs → ``graftlm.core.commands``. Heavy
libraries (torch, transformers, sentence-transformers) are imported only inside the commands that
need them, so ``graft --help`` stays fast.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from graftlm.advisor.cli import advise, eval_compare, eval_run
from graftlm.core.commands import SettingsLoader, add_artifact_commands
from graftlm.core.cli import config_app, models_app
from graftlm.core.errors import GraftError
from graftlm.rag.cli import eval_retrieval, index_app
from graftlm.rag.cli import remove as remove_index
from graftlm.serving.cli import query, serve
from graftlm.tuning.cli import adapters_app, eval_adapter, train


class GraftGroup(TyperGroup):
    """Turns every error into one paragraph on stderr and a non-zero exit, never a traceback.

    This is the CLI's one error edge. A :class:`GraftError` says what went wrong and what to
    do; a file the system would not read or write (a full disk, no permission) is named with
    the reason; anything else is a bug, reported as one. ``--debug`` (or ``GRAFT_DEBUG=1``) lets
    the traceback through instead.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Usage errors and exits are the command-line library's own (typer vendors click).
            if type(exc).__module__.startswith(("click", "typer")) or ctx.params.get(
                    "debug") or os.environ.get("GRAFT_DEBUG"):
                raise
            typer.echo(f"error: {_message(exc)}", err=True)
            raise typer.Exit(exc.exit_code if isinstance(exc, GraftError) else 1) from None


def _message(exc: Exception) -> str:
    if isinstance(exc, GraftError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        hint = {errno.ENOSPC: "the disk is full; free some space and run again (what was "
                              "published before is intact)",
                errno.EACCES: "permission denied; check who owns it",
                errno.EPERM: "operation not permitted; check who owns it",
                errno.EROFS: "the file system is read-only; use another --home or folder",
                errno.ENOENT: "no such file or folder"}.get(exc.errno, exc.strerror or str(exc))
        return f"{where}{hint}."
    return (f"unexpected {type(exc).__name__}: {exc}. This is a bug in graftlm; run again with "
            "--debug for the traceback and report it.")


app = typer.Typer(
    cls=GraftGroup, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    help="graftlm: advise how to adapt a language model to a task, then build and serve it.",
)


@app.callback()
def main_callback(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        help="Workspace directory (models, indexes, adapters). Env: GRAFT_HOME.")] = None,
    config: Annotated[Path | None, typer.Option(
        help="Settings file to read instead of ./graft.toml. Env: GRAFT_CONFIG.")] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks of errors.")] = False,
) -> None:
    """Load the settings once for the whole command."""
    if not debug:  # the library's per-load progress bars are noise in a command's output
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    ctx.obj = SettingsLoader(config, {"home": home} if home is not None else {})


app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.command("advise")(advise)
add_artifact_commands(index_app, "indexes", "index", remove=remove_index)
app.add_typer(index_app, name="index")
app.command("train")(train)
add_artifact_commands(adapters_app, "adapters", "adapter")
app.add_typer(adapters_app, name="adapters")
app.command("serve")(serve)
app.command("query")(query)

eval_app = typer.Typer(no_args_is_help=True, help="Measure indexes and adapters.")
eval_app.command("retrieval")(eval_retrieval)
eval_app.command("adapter")(eval_adapter)
eval_app.command("run")(eval_run)
eval_app.command("compare")(eval_compare)
add_artifact_commands(eval_app, "evals", "evaluation run")
app.add_typer(eval_app, name="eval")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
