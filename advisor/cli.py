"""``graft advise``: parse the description and the stated facts, advise, render."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import sys

import typer

from graftlm.errors import InputError


class Change(str, Enum):
    never = "never"
    rarely = "rarely"
    monthly = "monthly"
    weekly = "weekly"
    daily = "daily"
    realtime = "realtime"


def advise(
    ctx: typer.Context,
    description: Annotated[str | None, typer.Argument(
        help="The task, in your own words. '-' reads standard input.", show_default=False)] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="Read the description from a UTF-8 text file.")] = None,
    examples_count: Annotated[int | None, typer.Option(
        min=0, help="Labelled examples you have (overrides what the text implies).")] = None,
    has_docs: Annotated[bool | None, typer.Option(
        "--has-docs/--no-docs", help="Whether a document collection holds the knowledge.",
        show_default=False)] = None,
    docs_change: Annotated[Change | None, typer.Option(
        help="How often that knowledge changes.")] = None,
    citations: Annotated[bool | None, typer.Option(
        "--citations/--no-citations", help="Whether answers must cite sources.",
        show_default=False)] = None,
    latency_ms: Annotated[int | None, typer.Option(
        min=1, help="Latency budget per request, in milliseconds.")] = None,
    private: Annotated[bool | None, typer.Option(
        "--private/--no-private", help="Whether data must stay on your own machines.",
        show_default=False)] = None,
    semantic: Annotated[bool | None, typer.Option(
        "--semantic/--lexical", help="Match by meaning with the embedder (default), or by "
        "wording and numbers only.", show_default=False)] = None,
    examples: Annotated[Path | None, typer.Option(
        "--examples", help="Labelled examples (JSONL): measure the arms on them instead of "
        "only reading the description.")] = None,
    docs: Annotated[Path | None, typer.Option(
        help="Documents for the retrieval arms (indexed on the fly).")] = None,
    index: Annotated[str | None, typer.Option(
        help="An existing index for the retrieval arms, instead of --docs.")] = None,
    budget: Annotated[str, typer.Option(
        help="Time for all arms together, e.g. 15m, 900s, 1h.")] = "15m",
    report: Annotated[Path | None, typer.Option(
        help="Write report.html and advice.json into this folder.")] = None,
    input_field: Annotated[str | None, typer.Option(
        help="With --examples: the field holding the input.")] = None,
    target_field: Annotated[str | None, typer.Option(
        help="With --examples: the field holding the answer.")] = None,
    system: Annotated[str | None, typer.Option(
        help="With --examples and mapped fields: a system prompt.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the advice as JSON.")] = False,
    schema: Annotated[bool, typer.Option(
        "--schema", help="Print the JSON Schema of --json output and exit.")] = False,
) -> None:
    """Recommend prompting, few-shot, RAG, a LoRA adapter, full fine-tuning or a hybrid."""
    import json

    from advisor.schema import json_schema

    if schema:
        typer.echo(json.dumps(json_schema(), indent=2))
        return
    from advisor import Advisor, Facts
    from graftlm.cli import settings_of
    from graftlm.models import BASE_NAME, base_model_parameters
    from graftlm.workspace import Workspace

    text = _description(description, file)
    overrides = {"advisor.semantic": semantic}
    settings = settings_of(ctx, **overrides).settings
    embedder = None
    if settings.advisor.semantic:
        from graftlm.embedder import load_embedder

        embedder = load_embedder(settings.models)
    base = BASE_NAME if settings.models.base == "embedded" else settings.models.base
    advisor = Advisor(embedder, threshold=settings.advisor.semantic_threshold, base_name=base,
                      base_parameters=base_model_parameters(settings.models,
                                                            Workspace(settings.home)),
                      train_tflops=settings.advisor.train_tflops)
    facts = Facts(examples=examples_count, documents=has_docs,
                  docs_change=docs_change.value if docs_change else None, citations=citations,
                  latency_ms=latency_ms, private=private)
    if examples is None:
        if docs or index or report or input_field or target_field:
            raise InputError("--docs, --index, --report and the field options go with "
                             "--examples FILE (the labelled data to measure on).")
        advice = advisor.advise(text, facts)
    else:
        advice = _measured(advisor, text, facts, examples, settings, docs=docs, index=index,
                           budget=parse_duration(budget), fields=(input_field, target_field,
                                                                  system), quiet=as_json)
        if report is not None:
            from advisor.report import write_report

            page = write_report(advice, report)
            typer.echo(f"report: {page}", err=True)
    if as_json:
        typer.echo(advice.model_dump_json(indent=2))
        return
    from rich.console import Console

    from advisor.render import render

    render(advice, Console())


def _measured(advisor, text, facts, examples, settings, *, docs, index, budget, fields,
              quiet: bool):
    from dataclasses import replace

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    from advisor.measure import ARMS, measured_advice
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    input_field, target_field, system = fields
    field_map = None
    if input_field or target_field:
        if not (input_field and target_field):
            raise InputError("mapping fields needs both --input-field and --target-field.")
        field_map = FieldMap(target=target_field, input=input_field, system=system)
    if facts.documents is None:
        facts = replace(facts, documents=docs is not None or index is not None)
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), "{task.description}", TimeElapsedColumn(),
                  "{task.fields[status]}", console=console, disable=quiet) as bar:
        tasks = {arm_id: bar.add_task(title, status="waiting", total=None)
                 for arm_id, _, title in ARMS}

        def progress(arm_id: str, status: str) -> None:
            bar.update(tasks[arm_id], status=status)

        return measured_advice(advisor, text, facts, examples, settings,
                               Workspace(settings.home), budget_s=budget, docs=docs,
                               index=index, fields=field_map, progress=progress)


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


def _description(argument: str | None, file: Path | None) -> str:
    from advisor import read_description, validate_description
    from advisor.advise import MAX_DESCRIPTION_CHARS

    if argument is not None and file is not None:
        raise InputError("give the description either as an argument or with --file, not both.")
    if file is not None:
        return read_description(file)
    if argument is not None and argument != "-":
        return validate_description(argument)
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    if argument is None and sys.stdin.isatty():
        raise InputError('describe the task: graft advise "…", --file FILE, or pipe it on stdin.')
    raw = stream.read(4 * MAX_DESCRIPTION_CHARS + 1)
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > 4 * MAX_DESCRIPTION_CHARS:
        raise InputError(f"standard input is over {4 * MAX_DESCRIPTION_CHARS:,} bytes; a task "
                         f"description is limited to {MAX_DESCRIPTION_CHARS:,} characters.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"standard input is not UTF-8 (invalid byte 0x{raw[exc.start]:02x} at "
                         f"offset {exc.start}).") from None
    return validate_description(text, source="standard input")



def eval_run(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Labelled examples (JSONL).")],
    model: Annotated[str, typer.Option(help="base, or an adapter's name.")] = "base",
    index: Annotated[str | None, typer.Option(help="Retrieve sources from this index.")] = None,
    input_field: Annotated[str | None, typer.Option(help="Field holding the input.")] = None,
    target_field: Annotated[str | None, typer.Option(help="Field holding the answer.")] = None,
    system: Annotated[str | None, typer.Option(help="System prompt for mapped fields.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N examples.")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the run (default: generated).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Score base or an adapter, with or without an index, on a labelled set; keep the run."""
    import json

    from advisor.harness import run_eval
    from graftlm.cli import workspace_of
    from tuning.data import FieldMap

    settings, workspace = workspace_of(ctx)
    fields = None
    if input_field or target_field:
        if not (input_field and target_field):
            raise InputError("mapping fields needs both --input-field and --target-field.")
        fields = FieldMap(target=target_field, input=input_field, system=system)
    run = run_eval(data, model, settings, workspace, index=index, fields=fields, limit=limit,
                   name=name)
    if as_json:
        typer.echo(json.dumps(run, indent=2))
        return
    typer.echo(f"{run['name']}: {run['metric']} {run['score'] * 100:.1f} (95% CI "
               f"{run['ci_low'] * 100:.1f}–{run['ci_high'] * 100:.1f}) on {run['examples']} "
               f"examples, {run['seconds_per_query'] * 1000:.0f} ms per query")


def eval_compare(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(
        help="Runs to compare (default: all); differences are against the first.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluation runs side by side, with paired differences to the first on the same data."""
    from advisor.harness import compare
    from graftlm.cli import echo_rows, workspace_of

    _, workspace = workspace_of(ctx)
    rows = compare(workspace, names)

    def line(r: dict) -> str:
        diff = r.get("vs_first")
        versus = (f"  Δ {diff['difference'] * 100:+.1f} ({diff['ci_low'] * 100:+.1f}…"
                  f"{diff['ci_high'] * 100:+.1f})" if diff else "")
        combo = r["model"] + (f"+{r['index']}" if r.get("index") else "")
        return (f"{r['name']:<40} {combo:<28} {Path(r['data']).name:<20} {r['examples']:>5} "
                f"{r['metric']:<11} {r['score'] * 100:5.1f} [{r['ci_low'] * 100:.1f}–"
                f"{r['ci_high'] * 100:.1f}]{versus}")

    echo_rows(rows, as_json, "no evaluation runs yet; make one with `graft eval run --data F`.",
              line)
