"""The ``--auto`` search as a report: one self-contained HTML file (inline SVG, no scripts) with
the Pareto front drawn twice — score against trainable parameters, and against training time —
and every trial in a table, plus the search as JSON beside it."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

from graftlm.tuning.auto_trials import Search, TrialFigures

WIDTH, HEIGHT, PAD = 380, 260, 48
FRONT, OTHER, CHOSEN = "#2b7a4b", "#9aa5b1", "#c0392b"


def write_search_report(found: Search, folder: Path) -> Path:
    """Write ``search.html`` and ``search.json`` into ``folder``; return the HTML's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "search.json").write_text(json.dumps(found.record(), indent=2) + "\n")
    page, tmp = folder / "search.html", folder / ".search.html.tmp"
    tmp.write_text(render_search(found))
    tmp.replace(page)
    return page


def _ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        return [10.0 ** e for e in range(math.floor(math.log10(low)),
                                          math.ceil(math.log10(high)) + 1)]
    step = 10 ** math.floor(math.log10(max(high - low, 1e-9)))
    if (high - low) / step < 3:
        step /= 2
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 2)]


def _label(value: float, log: bool) -> str:
    if log:
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if value >= size:
                return f"{value / size:g}{unit}"
    return f"{value:g}"


def scatter(trials: list[TrialFigures], x_of, x_name: str, *, log: bool, front: set[int],
            chosen: int | None, metric: str) -> str:
    """One panel: each finished trial's score against ``x_of(trial)``; the front filled, the
    others hollow, the chosen one ringed."""
    xs = [x_of(t) for t in trials]
    ys = [t.score for t in trials]
    tick_x = _ticks(max(min(xs), 1e-9), max(xs), log)
    x_lo, x_hi = (tick_x[0], tick_x[-1]) if log else (min(0.0, min(xs)), max(tick_x[-1], 1e-9))
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-9:
        y_lo, y_hi = y_lo - 0.05, y_hi + 0.05
    span_y = y_hi - y_lo
    y_lo, y_hi = y_lo - 0.08 * span_y, y_hi + 0.08 * span_y

    def px(x: float) -> float:
        if log:
            x_span = math.log10(x_hi) - math.log10(x_lo) or 1.0
            share = (math.log10(max(x, x_lo)) - math.log10(x_lo)) / x_span
        else:
            share = (x - x_lo) / ((x_hi - x_lo) or 1.0)
        return PAD + share * (WIDTH - PAD - 12)

    def py(y: float) -> float:
        return HEIGHT - PAD + 12 - (y - y_lo) / (y_hi - y_lo) * (HEIGHT - PAD - 12)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'role="img" aria-label="{html.escape(metric)} against {html.escape(x_name)}">']
    for tick in tick_x:
        if x_lo <= tick <= x_hi:
            x = px(tick)
            parts.append(f'<line x1="{x:.1f}" y1="12" x2="{x:.1f}" y2="{HEIGHT - PAD + 12}" '
                         f'stroke="#eee"/><text x="{x:.1f}" y="{HEIGHT - PAD + 27}" '
                         f'font-size="10" text-anchor="middle">{_label(tick, log)}</text>')
    for i in range(5):
        y_value = y_lo + (y_hi - y_lo) * i / 4
        y = py(y_value)
        parts.append(f'<line x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - 12}" y2="{y:.1f}" '
                     f'stroke="#eee"/><text x="{PAD - 4}" y="{y + 3:.1f}" font-size="10" '
                     f'text-anchor="end">{y_value:.2f}</text>')
    parts.append(f'<text x="{(WIDTH + PAD) / 2:.0f}" y="{HEIGHT - 6}" font-size="11" '
                 f'text-anchor="middle">{html.escape(x_name)}</text>'
                 f'<text x="12" y="{(HEIGHT - PAD) / 2:.0f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {(HEIGHT - PAD) / 2:.0f})">{html.escape(metric)}'
                 '</text>')
    ordered = sorted(trials, key=lambda t: t.number in front)  # the front drawn on top
    for t in ordered:
        x, y = px(x_of(t)), py(t.score)
        on_front = t.number in front
        fill = FRONT if on_front else "white"
        stroke = FRONT if on_front else OTHER
        parts.append(f'<circle class="{"front" if on_front else "trial"}" cx="{x:.1f}" '
                     f'cy="{y:.1f}" r="5" fill="{fill}" stroke="{stroke}" stroke-width="1.5">'
                     f'<title>trial {t.number}: {html.escape(t.label)}</title></circle>')
        if t.number == chosen:
            parts.append(f'<circle class="chosen" cx="{x:.1f}" cy="{y:.1f}" r="9" fill="none" '
                         f'stroke="{CHOSEN}" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def front_charts(found: Search) -> str:
    """The finished trials' scores against trainable parameters and against seconds."""
    done = [t for t in found.trials if t.state == "complete"]
    if not done:
        return ""
    front = set(found.pareto)
    return (scatter(done, lambda t: max(t.trainable, 1), "trainable parameters (log)",
                    log=True, front=front, chosen=found.chosen, metric=found.metric)
            + scatter(done, lambda t: t.seconds, "training seconds", log=False, front=front,
                      chosen=found.chosen, metric=found.metric))


def render_search(found: Search) -> str:
    esc = html.escape
    front = set(found.pareto)
    charts = front_charts(found)
    order = {"complete": 0, "cut": 1, "pruned": 2, "failed": 3}
    rows = []
    for t in sorted(found.trials, key=lambda t: (order.get(t.state, 4),
                                                 -(t.score if t.score is not None else -1))):
        mark = ("front " if t.number in front else "") + ("chosen" if t.number == found.chosen
                                                          else "")
        score = f"{t.score:.4f}" if t.score is not None else "–"
        trainable = f"{t.trainable:,}" if t.trainable is not None else "–"
        seconds = f"{t.seconds:.0f}" if t.seconds is not None else "–"
        rows.append(f"<tr><td>{t.number}</td><td>{esc(t.state)}</td><td>{mark.strip()}</td>"
                    f"<td>{score}</td><td>{trainable}</td><td>{seconds}</td>"
                    f"<td>{esc(t.label)}</td></tr>")
    chosen = found.trial(found.chosen) if found.chosen is not None else None
    best = found.trial(found.best) if found.best is not None else None
    if chosen is None:
        verdict = "No trial finished within the budget."
    elif chosen is best:
        verdict = f"Chosen: trial {chosen.number} ({esc(chosen.label)}), the best score."
    else:
        verdict = (f"Chosen: trial {chosen.number} ({esc(chosen.label)}), the smallest within "
                   f"the noise of the best — trial {best.number} ({esc(best.label)}, "
                   f"{best.score:.4f}): their paired 95% interval reaches zero.")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>graftlm search {esc(found.study)}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 900px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 3px 9px; text-align: left; }}
.verdict {{ font-size: 1.1em; background: #eef6f0; padding: .8em 1em; }}
</style></head><body>
<h1>Adapter search</h1>
<p class="verdict">{verdict}</p>
<p>{len(found.trials)} trials in {found.seconds:.0f} s of a {found.budget_s:.0f} s budget;
{esc(found.metric.replace("_", " "))} on {found.validation} validation examples carved from the
train split. Filled: the Pareto front (no other trial scores at least as well with fewer
trainable parameters and less time); ringed: the chosen trial. Study: <code>{esc(found.study)}
</code>.</p>
<div>{charts}</div>
<table><tr><th>trial</th><th>state</th><th></th><th>{esc(found.metric.replace("_", " "))}</th>
<th>trainable</th><th>seconds</th><th>configuration</th></tr>{"".join(rows)}</table>
</body></html>
"""
