"""The ``graft`` command: the Typer root, error translation, and the core sub-apps.

Each stage contributes its own sub-app or command; this module wires them together. Heavy
libraries (torch, transformers, sentence-transformers) are imported only inside the commands that
need them, so ``graft --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from graftlm.errors import GraftError
from graftlm.settings import LoadedSettings, flatten, load_settings


class GraftGroup(TyperGroup):
    """Turns a :class:`GraftError` into one paragraph on stderr and a non-zero exit.

    This is the CLI's one error edge; ``--debug`` (or ``GRAFT_DEBUG=1``) lets the traceback
    through instead.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GraftError as exc:
            if ctx.params.get("debug") or os.environ.get("GRAFT_DEBUG"):
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=GraftGroup, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    help="graftlm: advise how to adapt a language model to a task, then build and serve it.",
)
config_app = typer.Typer(no_args_is_help=True, help="Inspect the effective settings.")
models_app = typer.Typer(no_args_is_help=True, help="Prepare and list the base model and embedder.")
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")


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
    overrides = {"home": home} if home is not None else {}
    ctx.obj = _Settings(config, overrides)


class _Settings:
    """Settings loaded on first use, so that a bad setting fails the command that needs it."""

    def __init__(self, config: Path | None, overrides: dict):
        self.config, self.overrides = config, overrides
        self._loaded: LoadedSettings | None = None

    def load(self, **more) -> LoadedSettings:
        if self._loaded is None or more:
            self._loaded = load_settings(self.config, {**self.overrides, **more})
            if not self._loaded.settings.models.allow_hub:
                # Nothing may try the hub unless a setting asks for it.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        return self._loaded


def settings_of(ctx: typer.Context, **overrides) -> LoadedSettings:
    """The settings of this invocation, with command-specific flag overrides applied."""
    return ctx.find_root().obj.load(**{k: v for k, v in overrides.items() if v is not None})


def workspace_of(ctx: typer.Context, **overrides):
    """``(settings, workspace)`` of this invocation, for commands that touch artifacts."""
    from graftlm.workspace import Workspace

    settings = settings_of(ctx, **overrides).settings
    return settings, Workspace(settings.home)


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print every setting's effective value and where it came from."""
    loaded = settings_of(ctx)
    rows = flatten(loaded.settings.model_dump(mode="json"))
    if as_json:
        typer.echo(json.dumps({k: {"value": v, "source": loaded.sources.get(k, "default")}
                               for k, v in rows.items()}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"settings (file: {loaded.config_file or 'none'})", title_justify="left")
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for key, value in rows.items():
        table.add_row(key, str(value), loaded.sources.get(key, "default"))
    Console().print(table)


@models_app.command("prepare")
def models_prepare(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(help="Convert again even if already prepared.")] = False,
) -> None:
    """Convert the packaged SmolLM2-135M-Instruct GGUF into a Hugging Face directory, once."""
    from graftlm.models import prepare_base_model
    from graftlm.workspace import Workspace

    settings = settings_of(ctx).settings
    path = prepare_base_model(settings.models, Workspace(settings.home), force=force,
                              log=lambda msg: typer.echo(msg, err=True))
    typer.echo(str(path))


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the base model and the embedder: name, source, path, size, ready or not."""
    from graftlm.models import model_status
    from graftlm.workspace import Workspace

    settings = settings_of(ctx).settings
    statuses = model_status(settings.models, Workspace(settings.home))
    if as_json:
        typer.echo(json.dumps([{**asdict(s), "path": str(s.path) if s.path else None}
                               for s in statuses], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False)
    for column in ("role", "name", "source", "path", "size", "ready"):
        table.add_column(column)
    for s in statuses:
        size = f"{s.size_bytes / 1e6:,.0f} MB" if s.size_bytes else "-"
        ready = "yes" if s.ready else f"no — {s.note}" if s.note else "no"
        table.add_row(s.role, s.name, s.source, str(s.path or "-"), size, ready)
    Console().print(table)



def echo_rows(rows: list[dict], as_json: bool, empty: str, line) -> None:
    """Print an artifact listing: JSON, or one line per row, or a hint when there is none."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif not rows:
        typer.echo(empty)
    for row in [] if as_json else rows:
        typer.echo(line(row))


_NameArg = Annotated[str, typer.Argument(help="Its name in the workspace.")]


def add_artifact_commands(sub_app: typer.Typer, kind: str, noun: str) -> None:
    """``show`` (print the manifest) and ``rm`` for one kind of workspace artifact."""

    @sub_app.command("show")
    def show(ctx: typer.Context, name: _NameArg) -> None:
        from graftlm.workspace import Workspace

        workspace = Workspace(settings_of(ctx).settings.home)
        typer.echo(json.dumps(workspace.get(kind, name).manifest, indent=2))

    show.__doc__ = f"Print an {noun}'s manifest." if noun[0] in "aeiou" else \
        f"Print a {noun}'s manifest."

    @sub_app.command("rm")
    def rm(ctx: typer.Context, name: _NameArg) -> None:
        from graftlm.workspace import Workspace

        workspace = Workspace(settings_of(ctx).settings.home)
        typer.echo(f"removed {workspace.remove(kind, name)}")

    rm.__doc__ = f"Delete the {noun}."


def _register_stages() -> None:
    from advisor.cli import advise, eval_compare, eval_run
    from rag.cli import eval_retrieval, index_app
    from serving.cli import query, serve
    from tuning.cli import adapters_app, eval_adapter, train

    app.command("advise")(advise)
    add_artifact_commands(index_app, "indexes", "index")
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


_register_stages()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
