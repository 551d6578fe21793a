"""Terminal rendering of an :class:`~advisor.schema.Advice` with rich."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from graftlm.advisor.schema import Advice
from graftlm.tuning.auto_trials import Search

_SHORT = {"prompting": "prompt", "few_shot": "few-shot", "rag": "RAG", "lora": "LoRA",
          "full_ft": "full FT", "hybrid": "hybrid"}


def render(advice: Advice, console: Console) -> None:
    """Print the advice: verdict, ranking, signals, caveats and plan."""
    top = next(s for s in advice.ranking if s.strategy == advice.recommendation)
    basis = "measured" if advice.measurement else f"confidence {advice.confidence:.0%}"
    verdict = Text.assemble(("Recommendation: ", "bold"), (top.title, "bold green"),
                            f"   {basis} ({advice.confidence_label})")
    if advice.measurement and not advice.measurement.works:
        verdict = Text.assemble(("No arm works yet on this model", "bold red"),
                                ("   the direction: ", "bold"), (top.title, "bold"),
                                f"   measured ({advice.confidence_label})")
    console.print(Panel(verdict, expand=False))
    if advice.measurement:
        render_measurement(advice.measurement, console)
    console.print(_ranking(advice))
    console.print(_signals(advice))
    if advice.caveats:
        console.print(Text("Caveats", style="bold"))
        for caveat in advice.caveats:
            console.print(Text.assemble("  • ", caveat.text, (f"  [{caveat.evidence}]", "dim")))
    console.print(_plan(advice))
    if advice.questions:
        console.print(_questions(advice))
    if not advice.semantic:
        console.print(Text("Matched by wording and numbers only (semantic matching is off).",
                           style="dim"))


def render_measurement(m, console: Console) -> None:
    """The arms as a table: score, interval, costs; then the verdict and what would change it."""
    others = secondary_metrics(m)
    priced = any(a.tokens_per_query is not None for a in m.arms)
    table = Table(title=f"Measured on {m.held_out} held-out examples ({m.metric})",
                  title_justify="left", show_edge=False)
    for column in ("arm", m.metric, "95% interval", "P(best)", *others, "build", "per query",
                   *(["per 1k queries"] if priced else []), "train ex."):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for a in m.arms:
        if a.status != "measured":
            table.add_row(a.title, Text(f"{a.status}: {a.reason}", style="dim"),
                          *[""] * (len(others) + 5 + priced))
            continue
        style = "bold green" if a.id == m.best else ""
        table.add_row(Text(a.title, style=style), f"{a.score * 100:.1f}",
                      f"{a.ci_low * 100:.1f}–{a.ci_high * 100:.1f}",
                      f"{m.probabilities[a.id]:.0%}" if a.id in m.probabilities else "-",
                      *[percent(a.metrics.get(name)) for name in others],
                      f"{a.build_seconds:.0f} s", f"{a.seconds_per_query * 1000:.0f} ms",
                      *([_cost(a)] if priced else []), str(a.train_examples))
    console.print(table)
    if m.split:
        console.print(Text(f"Split: {m.split}", style="dim"))
    if m.majority_label is not None:
        console.print(Text(f"Always answering “{m.majority_label}” (the most common label) "
                           f"scores {m.majority_score * 100:.1f}.", style="dim"))
    elif m.trivial_score is not None:
        console.print(Text(f"The trivial baseline, {m.trivial_name}, scores "
                           f"{m.trivial_score * 100:.1f}.", style="dim"))
    if m.search is not None:
        console.print(Text(f"--tune: the LoRA arms trained the search's choice — "
                           f"{Search.from_record(m.search).summary()}.", style="dim"))
    if m.headline:
        console.print(Text.assemble(("Headline: ", "bold"), m.headline))
    console.print(Text.assemble(("Verdict: ", "bold"), m.verdict))
    for line in m.would_change:
        console.print(Text.assemble("  • ", line))


def _cost(arm) -> str:
    """A compared arm's cost of 1,000 queries; a local arm's is the machine's time."""
    if arm.cost_per_1k is not None:
        return f"${arm.cost_per_1k:,.2f}"
    if arm.tokens_per_query is not None:
        return f"{sum(arm.tokens_per_query) * 1000:,.0f} tok"
    return "local"


def secondary_metrics(m) -> list[str]:
    """The measurement's metrics other than the primary one, in the scorer's order."""
    names = list(m.metrics) + (["judge"] if m.judge else [])
    return [name for name in names if name != m.metric]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _ranking(advice: Advice) -> Table:
    table = Table(title="Strategies", title_justify="left", show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("strategy")
    table.add_column("score", justify="right")
    table.add_column("probability")
    for row in advice.ranking:
        bar = "█" * max(0, round(row.probability * 20))
        style = "bold green" if row.rank == 1 else ""
        table.add_row(str(row.rank), Text(row.title, style=style), f"{row.score:+.2f}",
                      f"{bar} {row.probability:.0%}")
    return table


def _signals(advice: Advice) -> Table:
    table = Table(title="Signals found", title_justify="left", show_edge=False)
    table.add_column("signal")
    table.add_column("evidence")
    table.add_column("how")
    table.add_column("moved")
    if not advice.signals:
        table.add_row("none", "the description carries no signal; prompting stays first", "", "")
    for sig in advice.signals:
        how = sig.method
        if sig.similarity is not None:
            how += f" {sig.similarity:.2f}"
        if sig.negated_from:
            how += f", negated {sig.negated_from}"
        table.add_row(sig.title, Text(f"“{sig.evidence}”", style="italic"), how,
                      _moves(sig.effects))
    for rule in advice.rules:
        table.add_row(Text("rule: " + rule.id, style="cyan"), rule.note, "", _moves(rule.effects))
    for sig in advice.overridden:
        table.add_row(Text(sig.title, style="strike dim"), f"“{sig.evidence}”",
                      "overridden by a flag or a file", "")
    return table


def _questions(advice: Advice) -> Table:
    """What the description left open, and what each answer would recommend."""
    table = Table(title="Open questions: the answer would change the advice (say it with the "
                  "flag)", title_justify="left", show_edge=False)
    table.add_column("question")
    table.add_column("answer")
    table.add_column("flag")
    table.add_column("then")
    for question in advice.questions:
        for i, answer in enumerate(question.answers):
            changes = answer.recommendation != advice.recommendation
            table.add_row(question.text if i == 0 else "", answer.answer, answer.flag,
                          Text(f"{_SHORT[answer.recommendation]} {answer.probability:.0%}",
                               style="bold" if changes else "dim"))
    return table


def ask_questions(questions, console: Console, read=None) -> dict[str, int]:
    """Ask each open question on the terminal with a short menu; Enter skips it.

    Returns:
        question id → the index of the chosen answer, for the questions answered.
    """
    read = read or console.input
    answers: dict[str, int] = {}
    console.print(Text("A few facts would change this advice (Enter skips a question):",
                       style="bold"))
    for question in questions:
        menu = "  ".join(f"{i}) {a.answer}" for i, a in enumerate(question.answers, 1))
        console.print(Text.assemble(("? ", "bold cyan"), question.text, "\n  ", (menu, "dim")))
        while True:
            try:
                reply = read(Text(f"  answer [1-{len(question.answers)}]: ")).strip()
            except EOFError:
                return answers
            if not reply:
                break
            if reply.isdigit() and 1 <= int(reply) <= len(question.answers):
                answers[question.id] = int(reply) - 1
                break
            console.print(Text(f"  type a number from 1 to {len(question.answers)}, or Enter "
                               "to skip", style="yellow"))
    if answers:
        flags = " ".join(q.answers[answers[q.id]].flag for q in questions if q.id in answers)
        console.print(Text(f"Answered: {flags} (the same flags skip these questions next time)",
                           style="dim"))
    return answers


def _moves(effects: dict[str, float]) -> Text:
    """The three largest moves, but always the largest gain among them: a term that mostly
    rules strategies out (the learned reading) still shows the one it favours."""
    text = Text()
    ranked = sorted(effects.items(), key=lambda kv: -abs(kv[1]))
    gain = max(effects.items(), key=lambda kv: kv[1], default=None)
    if gain is not None and gain[1] >= 0.25 and gain not in ranked[:3]:
        ranked = [gain] + [kv for kv in ranked if kv != gain]
    for strategy, value in ranked[:3]:
        if abs(value) < 0.25:
            continue
        if text:
            text.append(" ")
        text.append(f"{value:+.1f} {_SHORT[strategy]}", style="green" if value > 0 else "red")
    return text


def _plan(advice: Advice) -> Panel:
    plan = advice.plan
    lines: list = [Text("Data to gather", style="bold")]
    lines += [Text("  • " + item) for item in plan.data]
    lines.append(Text("Next steps", style="bold"))
    for i, step in enumerate(plan.steps, 1):
        line = Text(f"  {i}. {step.title}")
        if step.command:
            line.append(f"\n     $ {step.command}", style="cyan")
        lines.append(line)
    cost = plan.cost
    lines.append(Text("Rough cost", style="bold"))
    params = f"{cost.base_parameters / 1e6:.0f}M parameters" if cost.base_parameters else "size unknown"
    lines.append(Text(f"  base model {cost.base_model} ({params})"))
    if cost.train_minutes is not None:
        lines.append(Text(f"  training ≈ {_duration(cost.train_minutes)} for {cost.train_tokens:,} "
                          f"tokens, ≈ {cost.train_memory_gb:g} GB memory"))
    if cost.extra_prompt_tokens:
        lines.append(Text(f"  ≈ {cost.extra_prompt_tokens:,} extra prompt tokens per request"))
    if cost.assumptions:
        lines.append(Text("  assuming " + "; ".join(cost.assumptions), style="dim"))
    title = next(r.title for r in advice.ranking if r.strategy == plan.strategy)
    return Panel(Group(*lines), title=f"Plan: {title}", title_align="left")


def _duration(minutes: float) -> str:
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 60 / 24:,.0f} days"
