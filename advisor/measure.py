"""Measured advice: run the arms on the user's own labelled examples and recommend from results.

The examples are split once (stratified when the targets are labels) into a train part and a
held-out part; every arm is scored on exactly the same held-out examples with the same metric
(exact match for labels, token F1 for free text) and greedy decoding:

- ``zero_shot``: the base model, the example's own prompt;
- ``few_shot``: the same, after demonstrations drawn from the train part (one per label first);
- ``rag``: the prompt with numbered sources retrieved from ``--docs`` (or an existing index);
- ``lora``: a short LoRA run on the train part, within the time budget;
- ``rag_lora``: that adapter with the retrieved sources.

The LoRA run is repeated on half of the train part (same number of steps), a point of the
learning curve. Each score comes with a bootstrap 95% interval; arms whose paired difference to
the best includes zero tie with it, and among tied arms the static advice (what the description
says, e.g. documents that change weekly) decides.
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from advisor.schema import Advice, ArmResult, LearningCurve, Measurement
from graftlm.errors import InputError
from graftlm.settings import Settings
from graftlm.workspace import Workspace

ARMS = (("zero_shot", "prompting", "Zero-shot prompting"),
        ("few_shot", "few_shot", "Few-shot prompting"),
        ("rag", "rag", "RAG"),
        ("lora", "lora", "LoRA adapter"),
        ("rag_lora", "hybrid", "RAG + LoRA"))
MIN_EXAMPLES = 10
MIN_TRAIN_SECONDS = 30.0
CURVE_FRACTION = 0.5
RAG_K = 3
RAG_TOKENS = 512

Progress = Callable[[str, str], None]  # (arm id, status text)


def bootstrap_ci(values: Sequence[float], *, resamples: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_difference_ci(a: Sequence[float], b: Sequence[float], **kwargs) -> tuple[float, float]:
    """Bootstrap interval of mean(a - b) over the same examples (a paired comparison)."""
    if len(a) != len(b):
        raise ValueError("paired scores need the same examples")
    return bootstrap_ci([x - y for x, y in zip(a, b)], **kwargs)


@dataclass
class _Arm:
    id: str
    strategy: str
    title: str
    status: str = "skipped"
    reason: str | None = None
    scores: list[float] = field(default_factory=list)
    build_seconds: float = 0.0
    seconds_per_query: float | None = None
    train_examples: int = 0
    samples: list[dict] = field(default_factory=list)

    def result(self) -> ArmResult:
        score = low = high = None
        if self.status == "measured":
            score = sum(self.scores) / len(self.scores)
            low, high = bootstrap_ci(self.scores)
        return ArmResult(id=self.id, strategy=self.strategy, title=self.title,
                         status=self.status, reason=self.reason,
                         score=_round(score), ci_low=_round(low), ci_high=_round(high),
                         build_seconds=round(self.build_seconds, 1),
                         seconds_per_query=_round(self.seconds_per_query),
                         train_examples=self.train_examples, samples=self.samples)


class Measurer:
    """Runs the arms for one labelled file within a time budget."""

    def __init__(self, settings: Settings, workspace: Workspace, *, budget_s: float = 900.0,
                 docs: Path | None = None, index: str | None = None, metric: str | None = None,
                 fmt=None, fields=None, progress: Progress | None = None, embedder=None):
        self.settings, self.workspace = settings, workspace
        self.budget_s = budget_s
        self.docs, self.index_name = docs, index
        self.metric, self.fmt, self.fields = metric, fmt, fields
        self.progress = progress or (lambda _arm, _status: None)
        self.embedder = embedder
        if docs is not None and not Path(docs).is_dir():
            raise InputError(f"--docs {docs} is not a folder of documents.")

    def run(self, data: Path) -> tuple[Measurement, dict[str, list[float]]]:
        """Measure every arm that can run; returns the measurement and per-example scores."""
        from graftlm.loader import load_base
        from tuning.adapter import check_data, require_clean
        from tuning.data import classify_target
        from tuning.evaluate import answer_budget
        from tuning.train import split

        started = time.monotonic()
        self.deadline = started + self.budget_s
        model, tokenizer, _ = load_base(self.settings.models, self.workspace)
        report = check_data(Path(data), tokenizer, self.settings, fmt=self.fmt,
                            fields=self.fields)
        require_clean(report)
        examples = report.examples
        if len(examples) < MIN_EXAMPLES:
            raise InputError(f"{data} has {len(examples)} usable examples; measuring needs at "
                             f"least {MIN_EXAMPLES} (some to train on, some to score).")
        cap = self.settings.advisor.measure_held_out
        train, held = split(examples, 0.3, cap, self.settings.tuning.seed)
        targets = [ex.target for ex in held]
        metric = self.metric or classify_target(targets)
        self.tokenizer, self.targets, self.metric = tokenizer, targets, metric
        self.budget_tokens = answer_budget(tokenizer, targets)
        arms = {arm_id: _Arm(arm_id, strategy, title) for arm_id, strategy, title in ARMS}

        self._measure(arms["zero_shot"], model, held)
        shots = demonstrations(train, self.settings.advisor.measure_shots,
                               self.settings.tuning.seed, label_like=metric == "exact_match")
        self._measure(arms["few_shot"], model, [with_shots(ex, shots) for ex in held],
                      train_examples=len(shots))
        retrieval = self._retrieval(arms, held)
        if retrieval is not None:
            self._measure(arms["rag"], model, retrieval, build=arms["rag"].build_seconds)

        curve = self._lora_arms(arms, train, held, retrieval)
        results = [arms[arm_id].result() for arm_id, _, _ in ARMS]
        measurement = Measurement(
            data=str(data), metric=metric, examples=len(examples), train_examples=len(train),
            held_out=len(held), held_out_lines=[ex.line for ex in held],
            budget_seconds=self.budget_s, seconds=round(time.monotonic() - started, 1),
            arms=results, learning_curve=curve, verdict="", best=None)
        return measurement, {a.id: a.scores for a in arms.values() if a.status == "measured"}

    # -- arms ------------------------------------------------------------------------------

    def _measure(self, arm: _Arm, model, prompts, *, build: float = 0.0,
                 train_examples: int = 0) -> None:
        from tuning.evaluate import example_scores, generate_answers

        self.progress(arm.id, f"answering {len(prompts)} held-out examples")
        started = time.perf_counter()
        answers = generate_answers(model, self.tokenizer, prompts,
                                   max_new_tokens=self.budget_tokens)
        elapsed = time.perf_counter() - started
        arm.scores = example_scores(answers, self.targets, self.metric)
        arm.status, arm.reason = "measured", None
        arm.build_seconds = build
        arm.seconds_per_query = elapsed / max(1, len(prompts))
        arm.train_examples = train_examples
        arm.samples = [{"input": ex.prompt_messages()[-1]["content"][:300], "target": t,
                        "answer": a} for ex, t, a in list(zip(prompts, self.targets,
                                                              answers))[:3]]
        mean = sum(arm.scores) / len(arm.scores)
        self.progress(arm.id, f"{self.metric} {mean:.3f}")

    def _retrieval(self, arms: dict, held):
        """The held-out prompts with retrieved sources, or None (and the reason) without docs."""
        from graftlm.embedder import load_embedder
        from rag.index import build_index, load_index

        if self.docs is None and self.index_name is None:
            for arm_id in ("rag", "rag_lora"):
                arms[arm_id].reason = ("no documents: pass --docs DIR (or --index NAME) to "
                                       "measure retrieval")
            self.progress("rag", "skipped: no documents")
            return None
        embedder = self.embedder or load_embedder(self.settings.models)
        started = time.perf_counter()
        scratch = None
        if self.index_name is None:
            self.progress("rag", f"indexing {self.docs}")
            scratch = Path(tempfile.mkdtemp(prefix="graft-measure-"))
            workspace, name = Workspace(scratch), "measure"
            build_index(Path(self.docs), name, workspace=workspace, settings=self.settings.rag,
                        embedder=embedder)
        else:
            workspace, name = self.workspace, self.index_name
        try:
            index = load_index(name, workspace=workspace, embedder=embedder)
            arms["rag"].build_seconds = time.perf_counter() - started
            self.progress("rag", "retrieving")
            return retrieval_prompts(index, held, self.tokenizer, self.settings)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _lora_arms(self, arms: dict, train, held, retrieval) -> LearningCurve | None:
        # What is left after the adapter's evaluations (one per LoRA arm, at the measured cost
        # of the matching prompt arm) goes to training: half to the full run, half to the run on
        # half the data.
        evals = [arms["zero_shot"].seconds_per_query * len(held)] * 2
        if retrieval is not None:
            evals.append(arms["rag"].seconds_per_query * len(held))
        left = self.deadline - time.monotonic() - sum(evals)
        per_run = left / 2
        if per_run < MIN_TRAIN_SECONDS:
            for arm_id in ("lora", "rag_lora"):
                arms[arm_id].reason = (f"the budget ({self.budget_s / 60:.0f} min) left "
                                       f"{max(0, left):.0f} s to train; give --budget more time")
                arms[arm_id].status = "skipped"
            self.progress("lora", "skipped: out of time")
            return None
        model, seconds = self._train(train, per_run, "lora")
        self._measure(arms["lora"], model, held, build=seconds, train_examples=len(train))
        if retrieval is not None:
            self._measure(arms["rag_lora"], model, retrieval,
                          build=seconds + arms["rag"].build_seconds,
                          train_examples=len(train))
        del model
        half = train[:max(1, int(len(train) * CURVE_FRACTION))]
        model, _ = self._train(half, per_run, "lora")
        curve_arm = _Arm("lora", "lora", "LoRA on half the data")
        self._measure(curve_arm, model, held, train_examples=len(half))
        full = sum(arms["lora"].scores) / len(held)
        part = sum(curve_arm.scores) / len(held)
        return learning_curve(CURVE_FRACTION, part, full)

    def _train(self, train, seconds: float, arm_id: str):
        from graftlm.loader import load_base
        from tuning.lora import with_lora
        from tuning.train import train as run_training

        model, tokenizer, _ = load_base(self.settings.models, self.workspace, for_training=True)
        t = self.settings.tuning
        model = with_lora(model, t)
        tuning = t.model_copy(update={"learning_rate": self.settings.advisor
                                      .measure_learning_rate, "epochs": 20.0})

        def progress(event: dict) -> None:
            if "loss" in event:
                self.progress(arm_id, f"training on {len(train)}: step {event['step']}/"
                              f"{event['total']}, loss {event['loss']:.3f}")

        started = time.perf_counter()
        result = run_training(model, tokenizer, train, [], tuning, progress=progress,
                              deadline=time.monotonic() + seconds)
        # Merged, the adapter answers the same at the base model's speed.
        return result.model.merge_and_unload(), time.perf_counter() - started


def retrieval_prompts(index, examples, tokenizer, settings: Settings) -> list:
    """``examples`` with numbered sources for their question added to the system message."""
    from rag.prompt import fit, search, token_counter, with_sources

    count = token_counter(tokenizer)
    prompts = []
    for ex in examples:
        query = ex.prompt_messages()[-1]["content"]
        results = search(index, query, k=RAG_K, rrf_k=settings.rag.rrf_k,
                         sparse_weight=settings.rag.sparse_weight)
        block, _ = fit(results, count, RAG_TOKENS)
        messages = with_sources(ex.prompt_messages(), block)
        prompts.append(replace(ex, messages=tuple((m["role"], m["content"]) for m in messages)
                               + ex.messages[-1:]))
    return prompts


def demonstrations(train, count: int, seed: int, *, label_like: bool) -> list:
    """Few-shot demonstrations: for labels, one per label (most common first), then more."""
    rng = random.Random(seed)
    pool = list(train)
    rng.shuffle(pool)
    if not label_like:
        return pool[:min(count, 3)]  # long answers: a few, to keep prompts within reason
    by_label: dict[str, list] = {}
    for ex in pool:
        by_label.setdefault(ex.target, []).append(ex)
    order = sorted(by_label, key=lambda label: -len(by_label[label]))
    picked = []
    while len(picked) < count and any(by_label.values()):
        for label in order:
            if by_label[label] and len(picked) < count:
                picked.append(by_label[label].pop())
    rng.shuffle(picked)
    return picked


def with_shots(example, shots):
    """``example`` with the demonstrations as earlier turns, after its system message."""
    head = [m for m in example.messages[:1] if m[0] == "system"]
    turns = [turn for shot in shots for turn in shot.messages if turn[0] != "system"]
    return replace(example, messages=tuple(head + turns) + example.messages[len(head):])


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
    change = []
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


ARM_ORDER = {arm_id: i for i, (arm_id, _, _) in enumerate(ARMS)}
COMPONENTS = {"zero_shot": (), "few_shot": (), "rag": ("rag",), "lora": ("lora",),
              "rag_lora": ("rag", "lora")}
PARTS = {"rag": "retrieval", "lora": "the adapter"}
_GAINS = {"rag": (("rag", "zero_shot"), ("rag_lora", "lora")),
          "lora": (("lora", "zero_shot"), ("rag_lora", "rag"))}


def _helps(component: str, scores: dict[str, list[float]]) -> bool:
    """Whether adding ``component`` to some measured arm raised its score significantly."""
    return any(with_it in scores and without in scores
               and paired_difference_ci(scores[with_it], scores[without])[0] > 0
               for with_it, without in _GAINS[component])


def _reasons(static: Advice, strategy: str) -> str:
    moved = [s.title for s in static.signals if s.effects.get(strategy, 0) > 0]
    return ", ".join(moved[:3]) if moved else "it ranks higher in the static advice"


def _round(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else round(value, 4)


def measured_advice(advisor, description: str, facts, data: Path, settings: Settings,
                    workspace: Workspace, **options) -> Advice:
    """The arms measured on ``data``, then advice that recommends from the measurements (the
    description's static advice breaking ties) and carries them in ``measurement``."""
    from dataclasses import replace as replace_facts

    measurement, scores = Measurer(settings, workspace, **options).run(data)
    if facts.examples is None:
        facts = replace_facts(facts, examples=measurement.examples)
    static = advisor.advise(description, facts)
    has_docs = options.get("docs") is not None or options.get("index") is not None
    measurement, strategy = decide(measurement, static, scores, has_docs)
    advice = advisor.advise(description, facts, recommend=strategy)
    label = "high" if not measurement.tied else "medium"
    return advice.model_copy(update={"measurement": measurement, "confidence_label": label})
