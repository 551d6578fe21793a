"""``graft advise``: parse the description and the stated facts, advise, render."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from graftlm.advisor import Advisor, Facts, description_from
from graftlm.advisor.arms import ARMS, CURVE
from graftlm.advisor.compare import ARM_TITLES, Compare
from graftlm.advisor.evals import compare as compare_runs, run_eval
from graftlm.advisor.files import document_signals, example_signals
from graftlm.advisor.llm_reader import ModelReader, reader_hits
from graftlm.advisor.measure import measured_advice
from graftlm.advisor.questions import answered
from graftlm.advisor.render import ask_questions, render
from graftlm.advisor.report import write_report
from graftlm.advisor.schema import json_schema
from graftlm.core.commands import (artifact_commands, echo_rows, parse_duration, setting_help,
                                   workspace_of)
from graftlm.core.errors import InputError
from graftlm.tuning.data import FieldMap
from graftlm.tuning.judge import Judge


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
    fixed_format: Annotated[bool | None, typer.Option(
        "--fixed-format/--free-form", help="Whether answers must follow a fixed format (JSON, "
        "fields, labels of your own) or may be free text.", show_default=False)] = None,
    ask: Annotated[bool, typer.Option(
        "--ask/--no-ask", help="On a terminal, ask the questions whose answers would change "
        "the advice (Enter skips one). --json and piped output never ask; they list them.")]
    = True,
    semantic: Annotated[bool | None, typer.Option(
        "--semantic/--lexical", help=setting_help("advisor.semantic"),
        show_default=False)] = None,
    examples: Annotated[Path | None, typer.Option(
        "--examples", help="Labelled examples (JSONL): their count, labels and answer lengths "
        "join the advice; with --measure the arms are measured on them.")] = None,
    docs: Annotated[Path | None, typer.Option(
        help="Your documents: their count, size and dates join the advice; with --measure, "
        "the retrieval arms index them on the fly.")] = None,
    measure: Annotated[bool, typer.Option(
        "--measure", help="With --examples: run zero-shot, few-shot, RAG, LoRA and RAG + LoRA "
        "on a held-out split and recommend from the scores.")] = False,
    index: Annotated[str | None, typer.Option(
        help="An existing index for the retrieval arms, instead of --docs.")] = None,
    budget: Annotated[str, typer.Option(
        help="Time for all arms together, e.g. 15m, 900s, 1h.")] = "15m",
    tune: Annotated[bool, typer.Option(
        "--tune", help="With --examples: the LoRA arms train the configuration a budgeted "
        "auto-PEFT search (as graft train --auto) chose on a validation split of the train "
        "part, instead of the default recipe.")] = False,
    report: Annotated[Path | None, typer.Option(
        help="Write report.html and advice.json into this folder.")] = None,
    input_field: Annotated[str | None, typer.Option(
        help="With --examples: the field holding the input.")] = None,
    target_field: Annotated[str | None, typer.Option(
        help="With --examples: the field holding the answer.")] = None,
    system: Annotated[str | None, typer.Option(
        help="With --examples and mapped fields: a system prompt.")] = None,
    judge: Annotated[str | None, typer.Option(
        help="With --examples: an OpenAI-compatible endpoint (base URL) whose model grades "
        "answers 1-5, reported beside the other metrics.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's model name.")] = None,
    compare: Annotated[str | None, typer.Option(
        help="With --measure: an OpenAI-compatible endpoint (base URL) whose model is prompted "
        "on the same held-out examples, as arms of its own (a bigger model, or a hosted API).")]
    = None,
    compare_model: Annotated[str | None, typer.Option(
        help="The name of the model to compare with.")] = None,
    compare_price: Annotated[str | None, typer.Option(
        help="Its prices per million input and output tokens, IN,OUT (e.g. 2.5,10): the "
        "compared arms then show a cost per 1,000 queries.")] = None,
    reader_url: Annotated[str | None, typer.Option(
        help="An OpenAI-compatible endpoint (base URL) whose model extracts the task's facts "
        "through structured output; they join the advice as signals of their own.")] = None,
    reader_model: Annotated[str | None, typer.Option(help="The reader model's name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the advice as JSON.")] = False,
    schema: Annotated[bool, typer.Option(
        "--schema", help="Print the JSON Schema of --json output and exit.")] = False,
) -> None:
    """Recommend prompting, few-shot, RAG, a LoRA adapter, full fine-tuning or a hybrid."""
    import json

    if schema:
        typer.echo(json.dumps(json_schema(), indent=2))
        return

    # Options that do not go together are refused before anything loads.
    if bool(reader_url) != bool(reader_model):
        raise InputError("a reader model needs both --reader-url URL and --reader-model NAME.")
    if measure and reader_url:
        raise InputError("--reader-url reads the description for advice without measuring; "
                         "drop it or --measure.")
    if measure and examples is None:
        raise InputError("--measure needs --examples FILE: the labelled data to measure on.")
    if not measure and (index or report or judge or judge_model or tune or budget != "15m"
                        or compare or compare_model or compare_price):
        raise InputError("--index, --budget, --report, --tune, --judge and --compare go with "
                         "--measure (and --examples FILE, the labelled data to measure on).")
    text = description_from(description, file)
    settings, workspace = workspace_of(ctx, **{"advisor.semantic": semantic})
    advisor = Advisor.from_settings(settings, workspace)
    facts = Facts(examples=examples_count, documents=has_docs,
                  docs_change=docs_change.value if docs_change else None, citations=citations,
                  latency_ms=latency_ms, private=private, output_format=fixed_format)

    fields = FieldMap.from_options(target_field, input_field, system=system)
    if measure:
        advice = _measured(advisor, text, facts, examples, settings, workspace, docs=docs,
                           index=index, budget=parse_duration(budget), fields=fields,
                           judge=_judge(judge, judge_model), tune=tune, quiet=as_json,
                           compare=Compare.from_options(compare, compare_model, compare_price))
        if report is not None:
            page = write_report(advice, report)
            typer.echo(f"report: {page}", err=True)
    else:
        advice = _static(advisor, text, facts, examples, docs, fields,
                         reader=(reader_url, reader_model) if reader_url else None,
                         interactive=ask and not as_json and _on_terminal())
    if as_json:
        typer.echo(advice.model_dump_json(indent=2))
        return
    from rich.console import Console

    render(advice, Console())


def _on_terminal() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def _static(advisor, text, facts, examples, docs, fields, *, reader, interactive: bool):
    """Advice from the description, what the files say and (``reader``: url and model) what a
    reader model extracts; on a terminal, the open questions are asked and the advice given
    again with their answers."""
    found = []
    if reader is not None:
        found += reader_hits(ModelReader(*reader).extract(text))
    if examples is not None:
        found += example_signals(examples, fields=fields)
    if docs is not None:
        found += document_signals(docs)
    reading = advisor.read(text)
    advice = advisor.decide(reading, facts, found=found)
    if interactive and advice.questions:
        from rich.console import Console

        answers = ask_questions(advice.questions, Console())
        if answers:
            advice = advisor.decide(reading, answered(facts, answers), found=found)
    return advice


def _measured(advisor, text, facts, examples, settings, workspace, *, docs, index, budget,
              fields, judge, tune: bool, quiet: bool, compare=None):
    from dataclasses import replace

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    if facts.documents is None:
        facts = replace(facts, documents=docs is not None or index is not None)
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), "{task.description}", TimeElapsedColumn(),
                  "{task.fields[status]}", console=console, disable=quiet) as bar:
        tasks = {arm_id: bar.add_task(title, status="waiting", total=None)
                 for arm_id, _, title in ARMS}

        def progress(arm_id: str, status: str) -> None:
            if arm_id not in tasks:  # the learning-curve run or a compared arm, once it starts
                title = CURVE[2] if arm_id == CURVE[0] else (
                    f"{compare.model} ({ARM_TITLES[arm_id]})" if compare else arm_id)
                tasks[arm_id] = bar.add_task(title, status=status, total=None)
            bar.update(tasks[arm_id], status=status)

        return measured_advice(advisor, text, facts, examples, settings, workspace,
                               budget_s=budget, docs=docs, index=index, fields=fields,
                               judge=judge, tune=tune, progress=progress, compare=compare)


def _judge(url: str | None, model: str | None):
    """The judge the options name, or None; both options or neither."""
    if not url and not model:
        return None
    if not (url and model):
        raise InputError("a judge needs both --judge URL and --judge-model NAME.")

    return Judge(url, model)


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
    judge: Annotated[str | None, typer.Option(
        help="An OpenAI-compatible endpoint (base URL) whose model grades answers 1-5.")]
    = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's model name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Score base or an adapter, with or without an index, on a labelled set; keep the run."""
    import json

    settings, workspace = workspace_of(ctx)
    fields = FieldMap.from_options(target_field, input_field, system=system)
    run = run_eval(data, model, settings, workspace, index=index, fields=fields, limit=limit,
                   name=name, judge=_judge(judge, judge_model))
    if as_json:
        typer.echo(json.dumps(run, indent=2))
        return
    others = ", ".join(f"{name} {value * 100:.1f}" for name, value in run["metrics"].items()
                       if name != run["metric"])
    typer.echo(f"{run['name']}: {run['metric']} {run['score'] * 100:.1f} (95% CI "
               f"{run['ci_low'] * 100:.1f}–{run['ci_high'] * 100:.1f}); {others}; on "
               f"{run['examples']} examples, {run['seconds_per_query'] * 1000:.0f} ms per query")


def eval_compare(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(
        help="Runs to compare (default: all); differences are against the first.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluation runs side by side, with paired differences to the first on the same data."""
    _, workspace = workspace_of(ctx)
    rows = compare_runs(workspace, names)

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


eval_show, eval_rm = artifact_commands("evals", "evaluation run")
