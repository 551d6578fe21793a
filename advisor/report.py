"""The measured-advice report: one self-contained HTML file (inline SVG chart, no scripts), plus
the advice as JSON beside it."""

from __future__ import annotations

import html
import json
from pathlib import Path

from graftlm.advisor.render import percent, secondary_metrics
from graftlm.advisor.schema import Advice
from graftlm.tuning.auto_report import front_charts
from graftlm.tuning.auto_trials import Search

BAR_W, ROW_H, LEFT = 420, 34, 170


def write_report(advice: Advice, folder: Path) -> Path:
    """Write ``report.html`` and ``advice.json`` into ``folder``; return the HTML's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "advice.json").write_text(advice.model_dump_json(indent=2) + "\n")
    page = folder / "report.html"
    tmp = folder / ".report.html.tmp"
    tmp.write_text(render_html(advice))
    tmp.replace(page)
    return page


def chart(advice: Advice) -> str:
    """Horizontal bars of each arm's score with its 95% interval as a whisker."""
    m = advice.measurement
    arms = [a for a in m.arms if a.status == "measured"]
    height = ROW_H * len(arms) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + BAR_W + 90}" '
             f'height="{height}" role="img" aria-label="scores of the arms">']
    for tick in range(0, 101, 25):
        x = LEFT + BAR_W * tick / 100
        parts.append(f'<line x1="{x}" y1="10" x2="{x}" y2="{height - 25}" stroke="#ddd"/>'
                     f'<text x="{x}" y="{height - 8}" font-size="11" text-anchor="middle">'
                     f'{tick}</text>')
    for i, arm in enumerate(arms):
        y = 14 + i * ROW_H
        colour = "#2b7a4b" if arm.id == m.best else "#4a78b5"
        width = BAR_W * arm.score
        low, high = LEFT + BAR_W * arm.ci_low, LEFT + BAR_W * arm.ci_high
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 15}" font-size="13" text-anchor="end">'
            f'{html.escape(arm.title)}</text>'
            f'<rect x="{LEFT}" y="{y}" width="{width:.1f}" height="20" fill="{colour}"/>'
            f'<line x1="{low:.1f}" y1="{y + 10}" x2="{high:.1f}" y2="{y + 10}" stroke="#111" '
            f'stroke-width="2"/><line x1="{low:.1f}" y1="{y + 4}" x2="{low:.1f}" y2="{y + 16}" '
            f'stroke="#111"/><line x1="{high:.1f}" y1="{y + 4}" x2="{high:.1f}" y2="{y + 16}" '
            f'stroke="#111"/><text x="{LEFT + BAR_W + 8}" y="{y + 15}" font-size="12">'
            f'{arm.score * 100:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(advice: Advice) -> str:
    m = advice.measurement
    esc = html.escape
    others = secondary_metrics(m)
    rows = []
    for a in m.arms:
        if a.status == "measured":
            extra = "".join(f"<td>{percent(a.metrics.get(name))}</td>" for name in others)
            chance = (f"{m.probabilities[a.id]:.0%}" if a.id in m.probabilities else "-")
            cells = (f"<td>{a.score * 100:.1f}</td><td>{a.ci_low * 100:.1f}–"
                     f"{a.ci_high * 100:.1f}</td><td>{chance}</td>{extra}<td>{a.build_seconds:.0f} s</td>"
                     f"<td>{a.seconds_per_query * 1000:.0f} ms</td><td>{a.train_examples}</td>")
        else:
            cells = (f'<td colspan="{6 + len(others)}">{esc(a.status)}: '
                     f'{esc(a.reason or "")}</td>')
        rows.append(f"<tr><td>{esc(a.title)}</td>{cells}</tr>")
    judge = ""
    if m.judge:
        judge = (f"<h2>Judge</h2><p>Answers graded 1–5 by <code>{esc(m.judge['model'])}</code> "
                 f"at <code>{esc(m.judge['url'])}</code> (mapped to 0–100), asked:</p>"
                 f"<pre>{esc(m.judge['prompt'])}</pre>")
    heads = "".join(f"<th>{esc(name.replace('_', ' '))}</th>" for name in others)
    curve = ""
    if m.learning_curve:
        c = m.learning_curve
        curve = (f"<h2>Learning curve</h2><p>LoRA on {c.fraction:.0%} of the train split: "
                 f"{c.score_fraction * 100:.1f}; on all of it: {c.score_full * 100:.1f}. "
                 f"{esc(c.hint)}</p>")
    tuned = ""
    if m.search is not None:
        found = Search.from_record(m.search)
        tuned = (f"<h2>Tuning (--tune)</h2><p>Every LoRA arm trained the configuration an "
                 f"auto-PEFT search chose on a validation split of the train part: "
                 f"{esc(found.summary())}. Filled: the Pareto front; ringed: the choice.</p>"
                 f"<div>{front_charts(found)}</div>")
    floor = "" if m.majority_label is None else (
        f"<p>Always answering “{esc(m.majority_label)}” (the most common label) scores "
        f"{m.majority_score * 100:.1f}.</p>")
    if m.trivial_score is not None:
        floor = (f"<p>The trivial baseline, {esc(m.trivial_name or '')}, scores "
                 f"{m.trivial_score * 100:.1f}.</p>")
    steps = "".join(f"<li>{esc(s.title)}" + (f" <code>{esc(s.command)}</code>" if s.command
                                              else "") + "</li>" for s in advice.plan.steps)
    change = "".join(f"<li>{esc(x)}</li>" for x in m.would_change)
    samples = []
    for a in m.arms:
        for s in a.samples[:2]:
            samples.append(f"<tr><td>{esc(a.title)}</td><td>{esc(s['input'])}</td>"
                           f"<td>{esc(s['target'])}</td><td>{esc(s['answer'])}</td></tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>graftlm measured advice</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 860px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }}
code {{ background: #f3f3f3; padding: 1px 4px; }}
.verdict {{ font-size: 1.15em; background: #eef6f0; padding: .8em 1em; }}
</style></head><body>
<h1>Measured advice: {esc(m.headline or advice.recommendation.replace("_", " "))}</h1>
<p><em>{esc(advice.description)}</em></p>
<p class="verdict">{esc(m.verdict)}</p>
<p>Split: {esc(m.split)}</p>
<p>{m.held_out} held-out examples (the same for every arm) of {m.examples} in
<code>{esc(m.data)}</code>; {m.train_examples} for training and demonstrations. Metric:
{esc(m.metric.replace("_", " "))}, with bootstrap 95% intervals. Took {m.seconds / 60:.1f} min
of a {m.budget_seconds / 60:.0f} min budget.</p>
{chart(advice)}
<table><tr><th>arm</th><th>{esc(m.metric.replace("_", " "))}</th><th>95% interval</th>
<th>P(best)</th>{heads}
<th>build</th><th>per query</th><th>train examples</th></tr>{"".join(rows)}</table>
{floor}
{tuned}
{curve}
{judge}
<h2>What would change the verdict</h2><ul>{change}</ul>
<h2>Plan</h2><ol>{steps}</ol>
<h2>Sample answers</h2>
<table><tr><th>arm</th><th>input</th><th>target</th><th>answer</th></tr>{"".join(samples)}</table>
<details><summary>The advice as JSON</summary><pre>{esc(json.dumps(
        advice.model_dump(mode="json"), indent=2))}</pre></details>
</body></html>
"""
