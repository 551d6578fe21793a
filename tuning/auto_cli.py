"""What ``graft train --auto`` shows: the search's progress bar and its table of trials."""

from __future__ import annotations

import os

import typer
from graftlm.tuning.auto import progress_words, search
from graftlm.tuning.events import TrialEvent, TrialsDone


def run_search(data, name, settings, workspace, *, budget_s: float, fmt, fields,
               held_out_elsewhere: bool = False):
    """Search for ``budget_s`` seconds under a progress bar: trials done and pruned, the best
    so far, and the time left."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeRemainingColumn

    err = Console(stderr=True)
    state = {"trials": "no trial finished yet", "now": ""}
    with Progress("[progress.description]{task.description}", BarColumn(),
                  TimeRemainingColumn(), "{task.fields[status]}", console=err,
                  disable=os.environ.get("RANK", "0") != "0") as bar:
        task = bar.add_task("searching", total=budget_s, status="")

        def progress(event: TrialEvent | TrialsDone) -> None:
            words = progress_words(event)
            if words is not None:
                state["trials" if isinstance(event, TrialsDone) else "now"] = words
            bar.update(task, completed=min(event.elapsed, budget_s),
                       status=f"{state['trials']} | {state['now']}")

        return search(data, name, settings, workspace, budget_s=budget_s, fmt=fmt,
                      fields=fields, held_out_elsewhere=held_out_elsewhere,
                      progress=progress)


def print_search(found) -> None:
    """The finished trials, best first: the Pareto front (score against trainable parameters
    and time) marked, and which was chosen and why."""
    shown = [t for t in found.trials if t.state == "complete" or t.number == found.chosen]
    done = sorted(shown, key=lambda t: (-t.score, t.trainable))
    others = len(found.trials) - len(done)
    plural = "s" if len(found.trials) != 1 else ""
    typer.echo(f"search: {len(found.trials)} trial{plural} in {found.seconds:.0f} s "
               f"({len(done)} finished, {others} pruned or failed); {found.metric} on "
               f"{found.validation} validation examples carved from the train split")
    typer.echo(f"{'trial':>5}  {'':2} {found.metric:>16} {'trainable':>12} {'seconds':>8}  "
               "configuration")
    for t in done:
        mark = ("*" if t.number in found.pareto else " ") + \
               (">" if t.number == found.chosen else " ")
        typer.echo(f"{t.number:>5}  {mark} {t.score:>16.4f} {t.trainable:>12,} "
                   f"{t.seconds:>8.0f}  {t.label}")
    best, chosen = found.trial(found.best), found.trial(found.chosen)
    why = "the best score" if best is chosen else (
        f"the smallest within the noise of the best (trial {best.number}, {best.score:.4f}: "
        "their paired 95% interval reaches zero)")
    if chosen.state == "cut":
        why = ("the best of the trials the budget's end cut short — none finished, so the "
               "choice rests on partial training; a larger --budget resumes the search")
    typer.echo(f"* Pareto front   > chosen: trial {chosen.number} ({chosen.label}), {why}; "
               "training it on the whole train split now")
