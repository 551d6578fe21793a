"""The verdict of measured advice: which arm to recommend from the scores, and why.

The best-scoring arm wins unless others tie with it (the paired 95% interval of the difference
includes zero); among tied arms the static advice (what the description says) decides, but only
for arms whose every part — the examples in the prompt, the retrieval, the adapter —
measurably helped somewhere, so a
simpler arm is not beaten by a part that did nothing. The learning-curve point (LoRA on half the
data) says whether more data is likely to help.
"""

from __future__ import annotations

from graftlm.advisor.arms import ARM_ORDER
from graftlm.advisor.schema import Advice, LearningCurve, Measurement
from graftlm.advisor.scoring import TITLES
from graftlm.core.stats import examples_to_separate, paired_difference_ci, probability_best


def learning_curve(fraction: float, part: float, full: float) -> LearningCurve:
    gain = full - part
    if gain > 0.05:
        hint = (f"LoRA gained {gain * 100:.0f} points from {fraction:.0%} to all of the train "
                "split: more labelled examples are likely to help further.")
    elif gain < -0.05:
        hint = ("LoRA did worse with all the data than with half: the run is noisy at this "
                "size; more held-out examples would tell.")
    else:
        hint = ("LoRA scored about the same on half the data: more examples of the same kind "
                "are unlikely to help much; consider a bigger base model or better targets.")
    return LearningCurve(fraction=fraction, score_fraction=round(part, 4),
                         score_full=round(full, 4), gain=round(gain, 4), hint=hint)


def separation(best: str, runner: str, needed: int | None, held: int) -> str:
    """What more held-out examples would do for two tied arms. ``needed`` comes from a normal
    approximation, the tie from a bootstrap: at the edge the first can say ``held`` already
    suffice while the second's interval still touches zero, and "0 more" would read as a bug."""
    if needed is None:
        return (f"{best} and {runner} score the same on average: more examples would not "
                "separate them; their cost would")
    if needed <= held:
        return (f"the difference is at the edge of what {held:,} examples separate; a few more "
                f"would likely separate {best} from {runner}, if it holds")
    return (f"about {needed - held:,} more held-out examples ({needed:,} in all) would separate "
            f"{best} from {runner}, if the difference holds")


def held_out_size(n: int, cap: int) -> int:
    """How many of ``n`` examples to hold out for scoring.

    The split is sized for the decision, not by a fixed share: scoring an example costs
    seconds, while training gains little from the last tenth of a small set. So at least
    ``MIN_HELD_OUT`` examples are held out where the data allows it (never more than half),
    30% of larger sets, and never more than ``cap`` (``advisor.measure_held_out``).
    """
    return min(cap, max(round(n * 0.3), min(MIN_HELD_OUT, n // 2)), n - 1)


def split_reason(held: int, n: int, cap: int) -> str:
    """Why ``held`` of ``n`` examples were held out (the split's own count, after rounding
    per label)."""
    larger = held > round(n * 0.3)
    return (f"held out {held} of {n} ({held / n:.0%}): "
            + (f"at least {MIN_HELD_OUT} scored where the data allows, never more than half, "
               "since a decision on few examples needs the evidence more than training needs "
               "the last examples" if larger else "30% of the examples")
            + (f", at most {cap} (advisor.measure_held_out)" if held >= cap else "") + ".")


def trivial_baseline(measurement: Measurement) -> tuple[str, float] | None:
    """The score every arm must clear: always the commonest label, or for free text the better
    of answering nothing and copying the input."""
    if measurement.majority_score is not None:
        return f"always answering “{measurement.majority_label}”", measurement.majority_score
    if measurement.trivial_score is not None:
        return measurement.trivial_name or "a trivial answer", measurement.trivial_score
    return None


def decide(measurement: Measurement, static: Advice, scores: dict[str, list[float]],
           has_docs: bool, *, margin: float = 0.05) -> tuple[Measurement, str]:
    """Recommend from the measurements. Returns the measurement with best, tied, the
    probabilities, the headline, the verdict and what would change it filled in, and the
    recommended strategy.

    The headline is the best point estimate unless (1) no arm beats the trivial baseline — then
    *no arm works yet*, and the recommendation is the direction the description points to — or
    (2) an arm that ties with the best (paired 95% interval) and lies within ``margin`` of it is
    simpler or favoured by the description: only inside the margin does the description break a
    tie, and only an arm whose every part measurably helped somewhere.
    """
    measured = [a for a in measurement.arms if a.status == "measured"]
    if not measured:
        return (measurement.model_copy(update={"verdict": "no arm could be measured.",
                                               "headline": "no arm could be measured"}),
                static.recommendation)
    pct = lambda x: f"{x * 100:.1f}"  # noqa: E731
    best = max(measured, key=lambda a: (a.score, -ARM_ORDER[a.id]))
    tied = [a for a in measured if a.id != best.id
            and paired_difference_ci(scores[best.id], scores[a.id])[0] <= 0]
    chances = probability_best({a.id: scores[a.id] for a in measured})
    others = sorted((a for a in measured if a.id != best.id), key=lambda a: -a.score)
    runner = others[0] if others else None
    needed = examples_to_separate(scores[best.id], scores[runner.id]) if runner else None
    floor = trivial_baseline(measurement)
    rank = {s.strategy: s.rank for s in static.ranking}
    works = floor is None or best.score > floor[1]
    if not works:
        choice = None
        headline = (f"No arm works yet on this model: the best, {best.title} "
                    f"({pct(best.score)}), does not beat {floor[0]} ({pct(floor[1])})")
        direction = min(static.ranking, key=lambda r: r.rank).strategy
        verdict = (f"{headline}. The description points to "
                   f"{TITLES[direction]}; try a bigger base model "
                   "(models.base), more labelled examples"
                   + (", and check that the documents cover the questions" if has_docs else "")
                   + ".")
        strategy = direction
    else:
        inside = [a for a in [best, *tied] if best.score - a.score <= margin + 1e-9]
        eligible = [a for a in inside if all(_helps(c, scores) for c in COMPONENTS[a.id])]
        choice = min(eligible or [best], key=lambda a: rank[a.strategy])
        strategy = choice.strategy
        headline = f"{choice.title} ({measurement.metric} {pct(choice.score)})"
        verdict = _because(measurement, best, choice, tied, inside, static, scores, margin)
    verdict += f" Chance of being the best: {_chances(chances, measured)}."
    change = list(measurement.would_change)  # what the measuring itself noted
    if measurement.learning_curve is not None:
        change.append(measurement.learning_curve.hint)
    if runner is not None and runner in tied:
        change.append(f"The scores of {len(tied) + 1} arms overlap on {measurement.held_out} "
                      f"held-out examples: "
                      f"{separation(best.title, runner.title, needed, measurement.held_out)}.")
    if not has_docs:
        change.append("No documents were given, so retrieval was not measured; if the task "
                      "needs facts from documents, pass --docs.")
    rag = next((a for a in measured if a.id == "rag"), None)
    zero = next((a for a in measured if a.id == "zero_shot"), None)
    if rag and zero and rag.score <= zero.score + 0.02:
        change.append("Retrieval did not lift the base model: check that the documents hold "
                      "the answers (graft eval retrieval) before relying on RAG.")
    if floor is not None and works and best.score <= floor[1] + 0.02:
        change.append(f"The best arm barely clears {floor[0]} ({pct(floor[1])}).")
    if best.score < 0.5:
        change.append(f"The best arm scores {pct(best.score)}: a bigger base model "
                      "(models.base) would likely raise every arm.")
    skipped = [a.title for a in measurement.arms if a.status == "skipped" and a.reason]
    if static.recommendation == "full_ft":
        change.append("The description points to full fine-tuning, which is not measured "
                      "here (it needs far more data and compute than the budget).")
    if skipped:
        change.append(f"Not measured: {', '.join(skipped)}.")
    return measurement.model_copy(update={
        "best": best.id, "tied": [a.id for a in tied], "verdict": verdict,
        "headline": headline, "works": works, "probabilities": chances,
        "separate_with": needed if runner is not None and runner in tied else None,
        "would_change": change}), strategy


def _because(m: Measurement, best, choice, tied, inside, static, scores, margin) -> str:
    pct = lambda x: f"{x * 100:.1f}"  # noqa: E731
    if choice.id == best.id and not tied:
        return (f"{best.title} scored best ({m.metric} {pct(best.score)}, 95% CI "
                f"{pct(best.ci_low)}–{pct(best.ci_high)}) and no other arm is within the "
                "paired confidence interval.")
    if choice.id == best.id:
        far = [a for a in tied if a not in inside]
        near = [a for a in tied if a in inside]
        said = f"{best.title} scored best ({pct(best.score)})"
        if near:
            idle = sorted({PARTS[c] for a in near for c in COMPONENTS[a.id]
                           if not _helps(c, scores)})
            why = (f"{' and '.join(idle)} showed no measured gain" if idle else
                   f"the description's signals also favour {best.title}")
            said += (f"; {', '.join(a.title for a in near)} tie with it within the paired 95% "
                     f"interval and within {margin * 100:.0f} points, and {why}")
        if far:
            said += (f"; {', '.join(a.title for a in far)} also overlap statistically but lie "
                     f"more than {margin * 100:.0f} points below, so they do not lead")
        return said + "."
    if all(_helps(c, scores) for c in COMPONENTS[best.id]):
        why = f"the description favours it: {_reasons(static, choice.strategy)}"
    else:
        idle = [PARTS[c] for c in COMPONENTS[best.id] if not _helps(c, scores)]
        why = (f"{' and '.join(idle)} showed no measured gain on these examples, so the "
               "simpler arm is recommended")
    return (f"{best.title} scored highest ({pct(best.score)}) but {choice.title} "
            f"({pct(choice.score)}) ties with it within the paired 95% interval and within "
            f"{margin * 100:.0f} points, and {why}.")


def _chances(chances: dict[str, float], measured) -> str:
    ordered = sorted(measured, key=lambda a: -chances[a.id])
    return ", ".join(f"{a.title} {chances[a.id]:.0%}" for a in ordered if chances[a.id] >= 0.005
                     ) or "spread evenly"


MIN_HELD_OUT = 60
COMPONENTS = {"zero_shot": (), "few_shot": ("shots",), "rag": ("rag",), "lora": ("lora",),
              "rag_lora": ("rag", "lora"),
              # another model, prompted: weighed as a whole, by its scores alone
              "big_zero_shot": (), "big_few_shot": (), "big_rag": ()}
PARTS = {"shots": "the examples in the prompt", "rag": "retrieval", "lora": "the adapter"}
_GAINS = {"shots": (("few_shot", "zero_shot"),),
          "rag": (("rag", "zero_shot"), ("rag_lora", "lora")),
          "lora": (("lora", "zero_shot"), ("rag_lora", "rag"))}


def _helps(component: str, scores: dict[str, list[float]]) -> bool:
    """Whether adding ``component`` to some measured arm raised its score significantly."""
    return any(with_it in scores and without in scores
               and paired_difference_ci(scores[with_it], scores[without])[0] > 0
               for with_it, without in _GAINS[component])


def _reasons(static: Advice, strategy: str) -> str:
    moved = [s.title for s in static.signals if s.effects.get(strategy, 0) > 0]
    return ", ".join(moved[:3]) if moved else "it ranks higher in the static advice"
