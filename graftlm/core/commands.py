"""What every ``graft`` command shares: the settings of the invocation, the workspace, flag help
written once on the settings, and the artifact listing and ``show`` / ``rm`` commands.

This is the leaf of the CLI tree: it imports only the core's settings and workspace, so the
stage CLIs (``advisor.cli``, ``rag.cli``, ``tuning.cli``, ``serving.cli``) import it and the root
(:mod:`graftlm.cli`) composes them, with no import running back up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from graftlm.core.errors import InputError
from graftlm.core.invocation import Invocation
from graftlm.core.settings import LoadedSettings, Settings, load_settings
from graftlm.core.workspace import Workspace


def settings_of(ctx: typer.Context, **overrides) -> LoadedSettings:
    """The settings of this invocation (loaded once, from the root's options), with
    command-specific flag overrides (dotted names; ``None`` means the flag was not given)
    applied."""
    invocation = ctx.find_root().obj
    if not isinstance(invocation, Invocation):  # a command invoked without the root callback
        invocation = ctx.find_root().obj = Invocation()
    more = {k: v for k, v in overrides.items() if v is not None}
    if invocation.loaded is None or more:
        invocation.loaded = load_settings(invocation.config, {**invocation.overrides, **more})
        if not invocation.loaded.settings.models.allow_hub:
            # Nothing may try the hub unless a setting asks for it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return invocation.loaded


def workspace_of(ctx: typer.Context, **overrides) -> tuple[Settings, Workspace]:
    """``(settings, workspace)`` of this invocation, for commands that touch artifacts."""
    settings = settings_of(ctx, **overrides).settings
    return settings, Workspace(settings.home)


def setting_help(dotted: str) -> str:
    """The description written once on a settings field (``"tuning.rank"``), as flag help."""
    section, _, name = dotted.rpartition(".")
    model: type = Settings
    for part in filter(None, section.split(".")):
        model = model.model_fields[part].annotation
    return model.model_fields[name].description or ""


def echo_rows(rows: list[dict], as_json: bool, empty: str, line: Callable[[dict], str]) -> None:
    """Print an artifact listing: JSON, or one line per row, or a hint when there is none."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(empty)
    for row in rows:
        typer.echo(line(row))


_NameArg = Annotated[str, typer.Argument(help="Its name in the workspace.")]


def artifact_commands(kind: str, noun: str,
                      remove: Callable[[Settings, Workspace, str], Path] | None = None
                      ) -> tuple[Callable, Callable]:
    """``show`` (print the manifest) and ``rm`` for one kind of workspace artifact; ``remove``
    deletes one when more than its folder must go (an index's Milvus collections)."""

    def show(ctx: typer.Context, name: _NameArg) -> None:
        _, workspace = workspace_of(ctx)
        typer.echo(json.dumps(workspace.get(kind, name).manifest, indent=2))

    article = "an" if noun[0] in "aeiou" else "a"
    show.__doc__ = f"Print {article} {noun}'s manifest."

    def rm(ctx: typer.Context, name: _NameArg) -> None:
        settings, workspace = workspace_of(ctx)
        removed = (remove(settings, workspace, name) if remove
                   else workspace.remove(kind, name))
        typer.echo(f"removed {removed}")

    rm.__doc__ = f"Delete the {noun}."
    return show, rm


def parse_duration(text: str) -> float:
    """Seconds in '15m', '900s', '1h', '90' (seconds)."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not match:
        raise InputError(f"--budget '{text}' is not a duration; write e.g. 15m, 900s or 1h.")
    value = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if value <= 0:
        raise InputError("--budget must be more than zero.")
    return value
