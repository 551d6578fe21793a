"""The ``graft`` command: the Typer root, its one error edge, and the composition of the
commands each stage contributes.

The root stands above the stages: it names every command in :data:`COMMANDS` — where it lives
and what it does in a line — and imports a stage's CLI module only when one of its commands
runs or shows its own help, so ``graft --help`` imports no stage. The stage CLI modules import
their libraries at the top; heavy third-party libraries (torch, transformers, FAISS) are imported
where they are used.
"""

from __future__ import annotations

import errno
import os
from importlib import import_module
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import DEFAULT_MARKUP_MODE, TyperGroup

from graftlm.core.errors import GraftError
from graftlm.core.invocation import Invocation

# The commands in the order of the loop: name -> (module, attribute, one line of help), or for
# a group of commands from several stages, (its help, its own table). The attribute is a Typer
# app (a group of commands) or a command function.
COMMANDS: dict = {
    "advise": ("graftlm.advisor.cli", "advise",
               "Recommend prompting, few-shot, RAG, a LoRA adapter, full fine-tuning or a "
               "hybrid."),
    "index": ("graftlm.rag.cli", "index_app", "Build, query and manage retrieval indexes."),
    "train": ("graftlm.tuning.cli", "train",
              "Train a skill adapter on the base model: LoRA by default, another --method, or "
              "the one --auto finds best for the data."),
    "adapters": ("graftlm.tuning.cli", "adapters_app", "List, inspect and remove adapters."),
    "eval": ("Measure indexes and adapters.", {
        "retrieval": ("graftlm.rag.cli", "eval_retrieval",
                      "hit@k, recall@k, MRR and nDCG@10 of dense, sparse and hybrid search, side "
                      "by side."),
        "adapter": ("graftlm.tuning.cli", "eval_adapter",
                    "Base model and adapter side by side on the same examples (read as the "
                    "adapter was trained: its card's fields and system prompt, unless a field is "
                    "given here)."),
        "run": ("graftlm.advisor.cli", "eval_run",
                "Score base or an adapter, with or without an index, on a labelled set; keep "
                "the run."),
        "compare": ("graftlm.advisor.cli", "eval_compare",
                    "Evaluation runs side by side, with paired differences to the first on the "
                    "same data."),
        "show": ("graftlm.advisor.cli", "eval_show", "Print an evaluation run's manifest."),
        "rm": ("graftlm.advisor.cli", "eval_rm", "Delete the evaluation run."),
    }),
    "serve": ("graftlm.serving.cli", "serve",
              "Serve the base model, adapters and indexes behind one OpenAI-compatible "
              "endpoint."),
    "query": ("graftlm.serving.cli", "query",
              "Ask the endpoint a question with the OpenAI client; print the answer and its "
              "sources."),
    "models": ("graftlm.core.cli", "models_app",
               "Prepare and list the base model and embedder."),
    "config": ("graftlm.core.cli", "config_app", "Inspect the effective settings."),
}


class LazyGroup(TyperGroup):
    """A group whose commands are named in a table and loaded when used (commands registered
    the usual way come after them).

    While the group prints its own help, each command is a stand-in carrying its line of help,
    so listing the commands imports none of them."""

    def __init__(self, *args, table: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.table = table if table is not None else COMMANDS
        self.listing = False

    def list_commands(self, ctx) -> list[str]:
        return [*self.table, *(name for name in self.commands if name not in self.table)]

    def get_command(self, ctx, name: str):
        entry = self.table.get(name)
        if entry is None:
            return self.commands.get(name)
        if self.listing:
            return click.Command(name, help=entry[0] if len(entry) == 2 else entry[2])
        if name not in self.commands:
            self.commands[name] = _load(name, entry)
        return self.commands[name]

    def format_help(self, ctx, formatter):
        self.listing = True
        try:
            return super().format_help(ctx, formatter)
        finally:
            self.listing = False


def _load(name: str, entry: tuple) -> click.Command:
    """The click command of one table entry: a sub-table becomes a lazy group of its own."""
    if len(entry) == 2:
        help_text, table = entry
        return LazyGroup(name=name, help=help_text, table=table, no_args_is_help=True,
                         rich_markup_mode=DEFAULT_MARKUP_MODE)
    module, attribute, _ = entry
    target = getattr(import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


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


class RootGroup(GraftGroup, LazyGroup):
    """The ``graft`` root: the error edge over the table of commands."""


app = typer.Typer(
    cls=RootGroup, no_args_is_help=True, add_completion=False,
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
    """Keep the root's options; the settings load when a command first asks for them."""
    if not debug:  # the library's per-load progress bars are noise in a command's output
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    ctx.obj = Invocation(config, {"home": home} if home is not None else {})


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
