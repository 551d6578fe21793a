"""``graft config`` and ``graft models``: the core's own commands (settings and the two models)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from graftlm.core.commands import settings_of, workspace_of
from graftlm.core.models import model_status, prepare_base_model
from graftlm.core.settings import flatten

config_app = typer.Typer(no_args_is_help=True, help="Inspect the effective settings.")
models_app = typer.Typer(no_args_is_help=True, help="Prepare and list the base model and embedder.")


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
    settings, workspace = workspace_of(ctx)
    path = prepare_base_model(settings.models, workspace, force=force,
                              log=lambda msg: typer.echo(msg, err=True))
    typer.echo(str(path))


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the base model and the embedder: name, source, path, size, ready or not."""
    settings, workspace = workspace_of(ctx)
    statuses = model_status(settings.models, workspace)
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
