"""``graft train`` and ``graft adapters …``: thin commands over the ``tuning`` library."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from graftlm.core.commands import (artifact_commands, echo_rows, parse_duration, setting_help,
                                   workspace_of)
from graftlm.core.errors import ArtifactError, InputError
from graftlm.core.models import EMBEDDED_PARAMETERS, base_model_dir, base_model_parameters
from graftlm.tuning.adapter import KIND
from graftlm.tuning.auto_cli import print_search, run_search
from graftlm.tuning.auto_report import write_search_report
from graftlm.tuning.data import FieldMap, check_data
from graftlm.tuning.estimate import training_minutes
from graftlm.tuning.eval_adapter import evaluate_adapter
from graftlm.tuning.events import Evaluated, Note, RunEvent, Step
from graftlm.tuning.merge import merge_adapter
from graftlm.tuning.methods import METHODS
from graftlm.tuning.pipeline import train_adapter

adapters_app = typer.Typer(no_args_is_help=True, help="List, inspect and remove adapters.")


Method = Enum("Method", {name: name for name in METHODS}, type=str)  # the registry's names


class Targets(str, Enum):
    all_linear = "all-linear"
    attention = "attention"
    mlp = "mlp"


class DataFormat(str, Enum):
    chat = "chat"
    alpaca = "alpaca"
    prompt_completion = "prompt_completion"
    fields = "fields"


def train(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="Training data, JSONL.")],
    name: Annotated[str | None, typer.Option(help="Name of the adapter in the workspace.")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Only validate the file and print statistics.")] = False,
    eval_file: Annotated[Path | None, typer.Option(
        help="Held-out data (default: a split of DATA).")] = None,
    data_format: Annotated[DataFormat | None, typer.Option(
        "--format", help="Force the data format (default: detected).")] = None,
    input_field: Annotated[str | None, typer.Option(help="Field holding the input.")] = None,
    template: Annotated[str | None, typer.Option(
        help="Input built from fields, e.g. 'Classify: {text}'.")] = None,
    target_field: Annotated[str | None, typer.Option(help="Field holding the answer.")] = None,
    system: Annotated[str | None, typer.Option(help="System prompt for mapped fields.")] = None,
    index: Annotated[str | None, typer.Option(
        help="Train retrieval-aware (RAFT): every example is shown sources from this index, "
        "the way `graft serve` will show them.")] = None,
    method: Annotated[Method | None, typer.Option(
        help=setting_help("tuning.method"), show_default=False)] = None,
    targets: Annotated[Targets | None, typer.Option(
        help=setting_help("tuning.targets"), show_default=False)] = None,
    full: Annotated[bool, typer.Option(help="Fine-tune all weights: --method full.")] = False,
    qlora: Annotated[bool, typer.Option(
        help="LoRA on a 4-bit (NF4) base: less GPU memory. CUDA only.")] = False,
    force: Annotated[bool, typer.Option(help="Replace an adapter of that name.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run.")] = False,
    epochs: Annotated[float | None, typer.Option(help=setting_help("tuning.epochs"))] = None,
    max_steps: Annotated[int | None, typer.Option(help=setting_help("tuning.max_steps"))]
    = None,
    rank: Annotated[int | None, typer.Option(help=setting_help("tuning.rank"))] = None,
    learning_rate: Annotated[float | None, typer.Option(
        "--lr", help=setting_help("tuning.learning_rate") + " With --method full or "
        "spectrum it sets tuning.full_learning_rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help=setting_help("tuning.batch_size"))]
    = None,
    max_length: Annotated[int | None, typer.Option(help=setting_help("tuning.max_length"))]
    = None,
    auto: Annotated[bool, typer.Option(
        "--auto", help="Choose the method and its settings by a budgeted search on a "
        "validation split of the train data (tuning.auto_methods), then train the choice.")]
    = False,
    budget: Annotated[str, typer.Option(help="--auto: time for the search (e.g. 30m, 1h); "
                                        "the final training comes after it.")] = "30m",
    as_json: Annotated[bool, typer.Option("--json", help="Print the card (and the search) as "
                                          "JSON.")] = False,
    report: Annotated[Path | None, typer.Option(
        help="--auto: write the search's HTML report (the Pareto front charted, every trial) "
        "and its JSON into this folder.")] = None,
) -> None:
    """Train a skill adapter on the base model: LoRA by default, another --method, or the one
    --auto finds best for the data."""
    if full and method not in (None, Method.full):
        raise InputError(f"--full and --method {method.value} exclude each other; --full is "
                         "--method full.")
    chosen = Method.full if full else method
    fields = FieldMap.from_options(target_field, input_field, template, system)
    overrides = {"tuning.epochs": epochs, "tuning.max_steps": max_steps, "tuning.rank": rank,
                 "tuning.batch_size": batch_size, "tuning.max_length": max_length,
                 "tuning.method": chosen.value if chosen else None,
                 "tuning.targets": targets.value if targets else None}
    settings, workspace = workspace_of(ctx, **overrides)
    if learning_rate is not None:  # the rate of the method that trains, once it is known
        key = "full_learning_rate" if settings.tuning.plain else "learning_rate"
        settings, workspace = workspace_of(ctx, **overrides, **{f"tuning.{key}": learning_rate})
    fmt = data_format.value if data_format else None
    if check:
        _check(data, settings, workspace, fmt, fields)
        return
    if not name:
        raise InputError("name the adapter: graft train DATA --name NAME (or use --check).")
    if report is not None and not auto:
        raise InputError("--report charts an --auto search; add --auto, or leave --report out.")
    search = None
    if auto:
        settings, search = _auto(data, name, settings, workspace, budget, fmt, fields,
                                 as_json=as_json, force=force, report=report,
                                 chosen={"--method": method, "--full": full or None,
                                         "--targets": targets, "--rank": rank,
                                         "--lr": learning_rate, "--epochs": epochs,
                                         "--max-steps": max_steps, "--resume": resume or None,
                                         "--index": index, "--qlora": qlora or None},
                                 held_out_elsewhere=eval_file is not None)
    path, card = _train(data, name, settings, workspace, eval_file=eval_file, fmt=fmt,
                        fields=fields, force=force, resume=resume, qlora=qlora,
                        index=index, search=search)
    if not card:  # another process of an `accelerate launch` run; the main one reports
        return
    if as_json:
        typer.echo(json.dumps(card, indent=2, ensure_ascii=False))
        return
    m = card["metrics"]
    others = "".join(f", {key} {value:.3f} → {m['adapter_metrics'].get(key, float('nan')):.3f}"
                     for key, value in m.get("base_metrics", {}).items() if key != m["name"])
    typer.echo(f"trained {card['type']} adapter '{name}' in {card['training']['seconds']:.0f} s "
               f"({card['training']['steps']} steps): {m['name']} {m['base']:.3f} (base) → "
               f"{m['adapter']:.3f} (adapter){others}, eval loss {m['base_eval_loss']:.3f} → "
               f"{m['adapter_eval_loss']:.3f} → {path}")


def _auto(data, name, settings, workspace, budget, fmt, fields, *, as_json, force, report,
          chosen, held_out_elsewhere):
    """Run the --auto search; the settings it chose and the card's record of it."""
    given = [flag for flag, value in chosen.items() if value is not None]
    if given:
        raise InputError(f"--auto chooses the method and its settings itself; leave out "
                         f"{', '.join(given)} (or train without --auto).")
    if workspace.exists(KIND, name) and not force:  # before the search, not after it
        raise ArtifactError(f"an adapter named '{name}' already exists; pass --force to "
                            "replace it.")
    found, tuned = run_search(data, name, settings, workspace, budget_s=parse_duration(budget),
                              fmt=fmt, fields=fields,
                              held_out_elsewhere=held_out_elsewhere)
    if report is not None:
        page = write_search_report(found, report)
        typer.echo(f"search report: {page}", err=as_json)
    if not as_json:
        print_search(found)
    return settings.model_copy(update={"tuning": tuned}), found.record()


def _check(data, settings, workspace, fmt, fields) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir(settings.models, workspace))
    report = check_data(data, tokenizer, settings, fmt=fmt, fields=fields)
    for problem in report.problems:
        typer.echo(f"{data}:{problem.line}: {problem.message}", err=True)
    n = len(report.examples)
    mean = report.tokens / n if n else 0
    minutes = training_minutes(report.tokens * settings.tuning.epochs,
                               _parameters(settings, workspace), settings.advisor.train_tflops)
    typer.echo(f"{data}: format {report.format}; {n} examples, {report.tokens:,} tokens "
               f"(mean {mean:.0f}, max {report.max_tokens}); {len(report.truncated)} longer "
               f"than {settings.tuning.max_length} tokens (truncated); {len(report.duplicates)} "
               f"duplicates; {len(report.problems)} problems. Estimated LoRA training on this "
               f"machine: about {max(1, round(minutes))} min for {settings.tuning.epochs:g} "
               "epochs.")
    if report.problems:
        raise typer.Exit(1)


def _parameters(settings, workspace) -> int:
    """The base model's size for the estimate; one the size of the embedded model when the
    configured model's size cannot be read without loading it."""
    return base_model_parameters(settings.models, workspace) or EMBEDDED_PARAMETERS


def _train(data, name, settings, workspace, **kwargs):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    err = Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), "{task.fields[status]}",
                  console=err, transient=False,
                  disable=os.environ.get("RANK", "0") != "0") as bar:
        task = bar.add_task("training", total=None, status="")

        def progress(event: RunEvent) -> None:
            if isinstance(event, Note):  # a line of its own above the bar
                bar.console.print(f"note: {event.text}", highlight=False, soft_wrap=True)
                return
            if not isinstance(event, (Step, Evaluated)):
                return
            status = bar.tasks[0].fields.get("status", "")
            if isinstance(event, Evaluated):
                point = event.point
                status = f"eval loss {point.loss:.3f}, {event.metric} {point.metric:.3f}"
            else:
                status = f"loss {event.loss:.3f}" + (
                    f" | {status.split(' | ')[-1]}" if "eval" in status else "")
            bar.update(task, completed=event.step, total=event.total, status=status)

        return train_adapter(data, name, settings, workspace, progress=progress, **kwargs)


@adapters_app.command("list")
def list_(ctx: typer.Context,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the adapters in the workspace with their metrics."""
    _, workspace = workspace_of(ctx)
    rows = [{"name": a.name, "type": a.manifest.get("type"),
             "base": a.manifest.get("base_model", {}).get("name"),
             "metric": a.manifest.get("metrics", {}).get("name"),
             "base_score": a.manifest.get("metrics", {}).get("base"),
             "adapter_score": a.manifest.get("metrics", {}).get("adapter"),
             "created": a.manifest.get("created"), "path": str(a.path)}
            for a in workspace.list(KIND)]
    echo_rows(rows, as_json, "no adapters yet; train one with `graft train DATA --name NAME`.",
              lambda r: f"{r['name']}\t{r['type']}\t{r['metric']} {r['base_score']} → "
                        f"{r['adapter_score']}\t{r['created']}")


@adapters_app.command("merge")
def merge(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The adapter to merge.")],
    out: Annotated[Path, typer.Option(help="Directory for the merged model.")],
    force: Annotated[bool, typer.Option(help="Replace a non-empty OUT.")] = False,
) -> None:
    """Fold an adapter into the base weights: a plain model any engine loads."""
    settings, workspace = workspace_of(ctx)
    typer.echo(f"merged '{name}' into {merge_adapter(name, out, settings, workspace, force=force)}")


def eval_adapter(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The adapter to evaluate.")],
    data: Annotated[Path, typer.Option(help="Labelled examples, JSONL.")],
    input_field: Annotated[str | None, typer.Option(
        help="Field holding the input (default: the one the adapter was trained on).")] = None,
    target_field: Annotated[str | None, typer.Option(
        help="Field holding the answer (default: the one the adapter was trained on).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Base model and adapter side by side on the same examples (read as the adapter was
    trained: its card's fields and system prompt, unless a field is given here)."""
    settings, workspace = workspace_of(ctx)
    result = evaluate_adapter(name, data, settings, workspace,
                              fields={"input": input_field, "target": target_field})
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{result['examples']} examples from {data}")
    typer.echo(f"{'':10}{result['metric']:>14}{'eval loss':>12}")
    typer.echo(f"{'base':10}{result['base']:14.4f}{result['base_loss']:12.4f}")
    typer.echo(f"{name[:10]:10}{result['adapter']:14.4f}{result['adapter_loss']:12.4f}")



adapter_show, adapter_rm = artifact_commands("adapters", "adapter")
adapters_app.command("show")(adapter_show)
adapters_app.command("rm")(adapter_rm)
