"""The verdict of measured advice: which arm to recommend from the scores, and why.

The best-scoring arm wins unless others tie with it (the paired 95% interval of the difference
includes zero); among tied arms the static advice (what the description says) decides, but only
for arms whose every part — the examples in the prompt, the retrieval, the adapter —
measurably helped somewhere, so a
simpler arm is not beaten by a part that did nothing. The learning-curve point (LoRA on half the
data) says whether more data is likely to help.
"""

from __future__ import annotations

from advisor.arms import ARM_ORDER
from advisor.schema import Advice, LearningCurve, Measurement
from graftlm.stats import paired_difference_ci


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


def decide(measurement: Measurement, static: Advice, scores: dict[str, list[float]],
           has_docs: bool) -> tuple[Measurement, str]:
    """Recommend from the measurements; the static advice breaks ties. Returns the measurement
    with best, tied, verdict and what would change it filled in, and the chosen strategy."""
    measured = [a for a in measurement.arms if a.status == "measured"]
    if not measured:
        return (measurement.model_copy(update={"verdict": "no arm could be measured."}),
                static.recommendation)
    best = max(measured, key=lambda a: (a.score, -ARM_ORDER[a.id]))
    tied = [a for a in measured if a.id != best.id
            and paired_difference_ci(scores[best.id], scores[a.id])[0] <= 0]
    rank = {s.strategy: s.rank for s in static.ranking}
    # Among tied arms the description decides, but only for arms whose every component (the
    # retrieval, the adapter) showed a measured gain somewhere; otherwise the simpler arm wins.
    eligible = [a for a in [best, *tied] if all(_helps(c, scores) for c in COMPONENTS[a.id])]
    choice = min(eligible or [best], key=lambda a: rank[a.strategy])
    pct = lambda x: f"{x * 100:.1f}"  # noqa: E731
    if choice.id == best.id and not tied:
        verdict = (f"{best.title} scored best ({measurement.metric} {pct(best.score)}, 95% CI "
                   f"{pct(best.ci_low)}–{pct(best.ci_high)}) and no other arm is within the "
                   "paired confidence interval.")
    elif choice.id == best.id:
        idle = sorted({PARTS[c] for a in tied if a not in eligible for c in COMPONENTS[a.id]
                       if not _helps(c, scores)})
        why = (f"{' and '.join(idle)} showed no measured gain" if idle else
               f"the description's signals also favour {best.title}")
        verdict = (f"{best.title} scored best ({pct(best.score)}); "
                   f"{', '.join(a.title for a in tied)} tie with it within the paired 95% "
                   f"interval, and {why}.")
    else:
        if best in eligible:
            why = f"the description favours it: {_reasons(static, choice.strategy)}"
        else:
            idle = [PARTS[c] for c in COMPONENTS[best.id] if not _helps(c, scores)]
            why = (f"{' and '.join(idle)} showed no measured gain on these examples, so the "
                   "simpler arm is recommended")
        verdict = (f"{best.title} scored highest ({pct(best.score)}) but {choice.title} "
                   f"({pct(choice.score)}) ties with it within the paired 95% interval, and "
                   f"{why}.")
    change = list(measurement.would_change)  # what the measuring itself noted
    if measurement.learning_curve is not None:
        change.append(measurement.learning_curve.hint)
    if tied:
        change.append(f"The scores of {len(tied) + 1} arms overlap on {measurement.held_out} "
                      "held-out examples: more labelled examples would separate them.")
    if not has_docs:
        change.append("No documents were given, so retrieval was not measured; if the task "
                      "needs facts from documents, pass --docs.")
    rag = next((a for a in measured if a.id == "rag"), None)
    zero = next((a for a in measured if a.id == "zero_shot"), None)
    if rag and zero and rag.score <= zero.score + 0.02:
        change.append("Retrieval did not lift the base model: check that the documents hold "
                      "the answers (graft eval retrieval) before relying on RAG.")
    floor = measurement.majority_score
    if floor is not None and best.score <= floor + 0.02:
        change.append(f"No arm clears always answering “{measurement.majority_label}” "
                      f"({pct(floor)}), the most common label: at this size the model has not "
                      "learned the task; more examples or a bigger base model would tell.")
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
        "would_change": change}), choice.strategy


COMPONENTS = {"zero_shot": (), "few_shot": ("shots",), "rag": ("rag",), "lora": ("lora",),
              "rag_lora": ("rag", "lora")}
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
