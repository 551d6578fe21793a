"""Measured advice: run the arms on the user's own labelled examples and recommend from results.

The examples are split once (stratified when the targets are labels) into a train part and a
held-out part; every arm is scored on exactly the same held-out examples, greedily, by the same
scorer (:mod:`tuning.metrics`: choice accuracy for labels, SQuAD F1 for short answers, token F1
for long ones, with the other metrics of the task beside it):

- ``zero_shot``: the base model, the example's own prompt;
- ``few_shot``: the same, after demonstrations drawn from the train part (one per label first);
- ``rag``: the prompt with sources from ``--docs`` (or an existing index), through the one
  retrieval prompt that ``graft serve`` uses (:func:`rag.prompt.augment`);
- ``lora``: a short LoRA run on the train part, within the time budget;
- ``rag_lora``: a retrieval-aware LoRA run (RAFT, :mod:`tuning.raft`): trained on the train part
  rendered with sources — a share with distractors only — and scored with sources, the way
  ``graft train --index`` trains and ``graft serve`` serves it.

The plain LoRA run is repeated on half of the train part (same time), a point of the learning
curve. Each score comes with a bootstrap 95% interval; arms whose paired difference to the best
includes zero tie with it, and among tied arms the static advice (what the description says,
e.g. documents that change weekly) decides.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from graftlm.advisor.arms import ARMS, CURVE, ArmRun
from graftlm.advisor.compare import measure_compared
from graftlm.advisor.schema import Advice, LearningCurve, Measurement
from graftlm.advisor.shots import demonstrations, with_shots
from graftlm.advisor.verdict import decide, held_out_size, learning_curve, split_reason
from graftlm.core.embedder import load_embedder
from graftlm.core.errors import InputError
from graftlm.core.loader import load_base
from graftlm.core.settings import Settings
from graftlm.core.stats import paired_difference_ci
from graftlm.core.workspace import Workspace
from graftlm.rag.index import build_index, load_index
from graftlm.tuning.auto import progress_words, search_examples
from graftlm.tuning.batching import split
from graftlm.tuning.data import clean_examples
from graftlm.tuning.evaluate import Scoring
from graftlm.tuning.events import RunEvent, Step, TrialEvent, TrialsDone
from graftlm.tuning.methods.lora import Lora
from graftlm.tuning.raft import max_length_with_sources, render
from graftlm.tuning.run import Run

MIN_EXAMPLES = 10
MIN_TRAIN_SECONDS = 30.0
CURVE_FRACTION = 0.5

Progress = Callable[[str, str], None]  # (arm id, status text)


class Measurer:
    """Runs the arms for one labelled file within a time budget."""

    def __init__(self, settings: Settings, workspace: Workspace, *, budget_s: float = 900.0,
                 docs: Path | None = None, index: str | None = None, fmt=None, fields=None,
                 progress: Progress | None = None, embedder=None, judge=None,
                 tune: bool = False, compare=None):
        self.settings, self.workspace = settings, workspace
        self.budget_s = budget_s
        self.docs, self.index_name = docs, index
        self.fmt, self.fields = fmt, fields
        self.progress = progress or (lambda _arm, _status: None)
        self.embedder = embedder
        self.judge = judge
        self.tune = tune
        self.compare = compare  # advisor.compare.Compare: a bigger model, prompted, as arms
        self.tuned = None  # (the search, the chosen tuning settings) with --tune
        self.notes: list[str] = []  # what the verdict's "would change" list should also say
        self.index = None
        self.rendered = None  # the train part rendered with sources, for the retrieval-aware arm
        if docs is not None and not Path(docs).is_dir():
            raise InputError(f"--docs {docs} is not a folder of documents.")

    def run(self, data: Path) -> tuple[Measurement, dict[str, list[float]]]:
        """Measure every arm that can run; returns the measurement and per-example scores."""
        scratch = Path(tempfile.mkdtemp(prefix="graft-measure-"))
        try:
            return self._run(Path(data), scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run(self, data: Path, scratch: Path):
        started = time.monotonic()
        self.deadline = started + self.budget_s
        self.scratch = scratch
        model, tokenizer, _ = load_base(self.settings.models, self.workspace)
        examples = clean_examples(data, tokenizer, self.settings, fmt=self.fmt,
                                 fields=self.fields).examples
        if len(examples) < MIN_EXAMPLES:
            raise InputError(f"{data} has {len(examples)} usable examples; measuring needs at "
                             f"least {MIN_EXAMPLES} (some to train on, some to score).")
        cap = self.settings.advisor.measure_held_out
        size = held_out_size(len(examples), cap)
        train, held = split(examples, size / len(examples), size, self.settings.tuning.seed)
        self.split_reason = split_reason(len(held), len(examples), cap)
        self.scoring = Scoring.of(tokenizer, held, labels_from=train, judge=self.judge)
        self.scorer, self.budget_tokens = self.scoring.scorer, self.scoring.budget
        self.tokenizer, self.held = tokenizer, held
        arms = {arm_id: ArmRun(arm_id, strategy, title) for arm_id, strategy, title in ARMS}

        self._measure(arms["zero_shot"], model, held)
        shots = demonstrations(train, self.settings.advisor.measure_shots,
                               self.settings.tuning.seed, label_like=self.scorer.kind == "label")
        shown = [with_shots(ex, shots) for ex in held]
        self._measure(arms["few_shot"], model, shown, train_examples=len(shots))
        retrieval = self._retrieval(arms, held, scratch)
        if retrieval is not None:
            self._measure(arms["rag"], model, retrieval, build=arms["rag"].build_seconds)
        del model
        compared = self._compared(held, shown, retrieval, len(shots))
        curve = self._lora_arms(arms, train, held, retrieval)
        self._spend_leftover(arms, train, held, retrieval)
        results = [arms[arm_id].result() for arm_id, _, _ in ARMS] + [
            run.result() for run in compared]
        majority = majority_baseline(train, held) if self.scorer.kind == "label" else None
        trivial = None if majority else trivial_answers(held, self.scorer)
        measurement = Measurement(
            data=str(data), metric=self.scorer.primary, metrics=list(self.scorer.metrics),
            labels=list(self.scorer.labels), examples=len(examples), train_examples=len(train),
            held_out=len(held), held_out_lines=[ex.line for ex in held],
            budget_seconds=self.budget_s, seconds=round(time.monotonic() - started, 1),
            arms=results, learning_curve=curve, verdict="", best=None,
            majority_label=majority[0] if majority else None,
            majority_score=majority[1] if majority else None,
            trivial_name=trivial[0] if trivial else None,
            trivial_score=trivial[1] if trivial else None, split=self.split_reason,
            judge=self.judge.describe() if self.judge else None,
            search=self.tuned[0].record() if self.tuned else None, would_change=self.notes)
        return measurement, {a.id: a.scores for a in [*arms.values(), *compared]
                             if a.status == "measured"}

    # -- arms ------------------------------------------------------------------------------

    def _compared(self, held, shown, retrieval, shots: int) -> list:
        """--compare: the same prompts, asked of a bigger model behind another endpoint."""
        if self.compare is None:
            return []

        prompts = {"big_zero_shot": held, "big_few_shot": shown}
        if retrieval is not None:
            prompts["big_rag"] = retrieval
        runs = measure_compared(self.compare, prompts, self.scorer, self.budget_tokens,
                                self.progress)
        for run in runs:
            run.train_examples = shots if run.id == "big_few_shot" else 0
        if self.scorer.kind == "label":
            self.notes.append(f"The prompted {self.compare.model} arms were scored on the "
                              "label their generated answer names; the local arms choose a "
                              "label by its likelihood, which never misses the label set.")
        return runs

    def _measure(self, arm: ArmRun, model, prompts, *, build: float = 0.0,
                 train_examples: int = 0) -> None:
        self.progress(arm.id, f"answering {len(prompts)} held-out examples")
        started = time.perf_counter()
        result = self.scoring.answers(model, self.tokenizer, prompts)
        elapsed = time.perf_counter() - started
        arm.scores = result.primary()
        arm.metrics = result.means()
        arm.status, arm.reason = "measured", None
        arm.build_seconds = build
        arm.seconds_per_query = elapsed / max(1, len(prompts))
        arm.train_examples = train_examples
        arm.samples = [{"input": ex.question[-300:], "target": ex.target, "answer": answer,
                        **({"choice": choice} if choice is not None else {})}
                       for ex, answer, choice in list(zip(prompts, result.answers,
                                                          result.choices))[:3]]
        mean = sum(arm.scores) / len(arm.scores)
        self.progress(arm.id, f"{self.scorer.primary} {mean:.3f}")

    def _retrieval(self, arms: dict, held, scratch: Path):
        """The held-out prompts with retrieved sources, or None (and the reason) without docs."""
        if self.docs is None and self.index_name is None:
            for arm_id in ("rag", "rag_lora"):
                arms[arm_id].reason = ("no documents: pass --docs DIR (or --index NAME) to "
                                       "measure retrieval")
            self.progress("rag", "skipped: no documents")
            return None
        embedder = self.embedder or load_embedder(self.settings.models)
        started = time.perf_counter()
        if self.index_name is None:
            self.progress("rag", f"indexing {self.docs}")
            workspace, name = Workspace(scratch), "measure"
            build_index(Path(self.docs), name, workspace=workspace, settings=self.settings.rag,
                        embedder=embedder)
        else:
            workspace, name = self.workspace, self.index_name
        self.index = load_index(name, workspace=workspace, embedder=embedder)
        arms["rag"].build_seconds = time.perf_counter() - started
        self.progress("rag", "retrieving")
        return render(held, self.index, self.settings.rag, self.tokenizer).examples

    def _lora_arms(self, arms: dict, train, held, retrieval) -> LearningCurve | None:
        # What is left after the adapters' evaluations (at the measured cost of the matching
        # prompt arm) goes to training: equal parts to the LoRA run and the retrieval-aware run
        # (when there are documents), and to the LoRA run on half the data a part in
        # proportion to its data, so that both points of the learning curve see the same
        # number of epochs.
        evals = [arms["zero_shot"].seconds_per_query * len(held)] * 2
        # With --tune a search on a validation split of the train part takes one more share,
        # and every LoRA run then trains the configuration it chose.
        runs = 1 + CURVE_FRACTION + (1 if self.tune else 0)
        if retrieval is not None:
            evals.append(arms["rag"].seconds_per_query * len(held))
            runs += 1
        left = self.deadline - time.monotonic() - sum(evals)
        per_run = left / runs
        if per_run < MIN_TRAIN_SECONDS * (2 if self.tune else 1):
            for arm_id in ("lora", "rag_lora"):
                arms[arm_id].reason = (f"the budget ({self.budget_s / 60:.0f} min) left "
                                       f"{max(0, left):.0f} s to train; give --budget more time")
                arms[arm_id].status = "skipped"
            self.progress("lora", "skipped: out of time")
            return None
        if self.tune:
            self.tuned = self._search(train, per_run)
        model, seconds = self._train(train, per_run, "lora")
        self._measure(arms["lora"], model, held, build=seconds, train_examples=len(train))
        del model
        if retrieval is not None:
            t = self.settings.tuning
            rendered = self.rendered = render(train, self.index, self.settings.rag, self.tokenizer,
                              distractor_share=t.distractor_share, seed=t.seed).examples
            model, seconds = self._train(rendered, per_run, "rag_lora",
                                         max_length=max_length_with_sources(t, self.settings.rag))
            self._measure(arms["rag_lora"], model, retrieval,
                          build=seconds + arms["rag"].build_seconds, train_examples=len(train))
            del model
        half = train[:max(1, int(len(train) * CURVE_FRACTION))]
        model, _ = self._train(half, per_run * CURVE_FRACTION, CURVE[0])
        curve_arm = ArmRun(*CURVE)
        self._measure(curve_arm, model, held, train_examples=len(half))
        full = sum(arms["lora"].scores) / len(held)
        part = sum(curve_arm.scores) / len(held)
        return learning_curve(CURVE_FRACTION, part, full)

    def _spend_leftover(self, arms: dict, train, held, retrieval) -> None:
        """Budget left after the arms goes where it can change the decision, not on idle: when
        the two leading arms tie and one of them was trained, a second seed of that arm trains
        (as long as the first, at most) and its per-example scores become the mean of both
        seeds — training noise is then a smaller part of the difference."""
        measured = sorted((a for a in arms.values() if a.status == "measured"),
                          key=lambda a: -sum(a.scores) / len(a.scores))
        if len(measured) < 2:
            return
        first, second = measured[:2]
        if paired_difference_ci(first.scores, second.scores)[0] > 0:
            return  # not tied: more of the same would not change the decision
        arm = next((a for a in (first, second) if a.id in ("lora", "rag_lora")), None)
        if arm is None:
            return
        prompt_arm = arms["rag" if arm.id == "rag_lora" else "zero_shot"]
        left = self.deadline - time.monotonic()
        seconds = min(left - prompt_arm.seconds_per_query * len(held), arm.build_seconds)
        if seconds < MIN_TRAIN_SECONDS:
            return
        if arm.id == "lora":
            model, _ = self._train(train, seconds, "lora", seed_offset=1)
            prompts = held
        else:
            model, _ = self._train(self.rendered, seconds, "rag_lora", seed_offset=1,
                                   max_length=max_length_with_sources(self.settings.tuning,
                                                                      self.settings.rag))
            prompts = retrieval
        again = ArmRun(arm.id, arm.strategy, arm.title)
        self._measure(again, model, prompts)
        del model
        arm.scores = [(a + b) / 2 for a, b in zip(arm.scores, again.scores, strict=True)]
        arm.metrics = {k: round((v + again.metrics.get(k, v)) / 2, 4)
                       for k, v in arm.metrics.items()}
        arm.seeds = 2
        other = second if arm is first else first
        self.notes.append(f"{left:.0f} s of the budget were left and {arm.title} tied with "
                          f"{other.title}: a second seed of {arm.title} trained, and its scores "
                          "are the mean of both seeds.")

    def _search(self, train, seconds: float):
        """--tune: the auto-PEFT search (:mod:`tuning.auto`) on the train part for ``seconds``;
        its study lives in the scratch folder, its choice trains every LoRA arm."""
        import hashlib

        def progress(event: TrialEvent | TrialsDone) -> None:
            words = progress_words(event)
            if words is not None:
                self.progress("lora", f"searching: {words}")

        key = hashlib.sha256("\n".join(f"{ex.line}\t{ex.question}\t{ex.target}"
                                        for ex in train).encode()).hexdigest()
        try:
            found, tuned = search_examples(train, self.scratch / "tune.db", "measure",
                                           self.settings, self.workspace, self.tokenizer,
                                           budget_s=seconds, data_key=key, progress=progress)
        except InputError as exc:  # no trial finished in its share, or too few examples
            self.notes.append(f"--tune: the search chose nothing ({exc}); the LoRA arms "
                              "trained the default recipe. A larger --budget gives it time.")
            self.progress("lora", "search chose nothing: the default recipe trains")
            return None
        self.progress("lora", f"search chose {found.trial(found.chosen).label}")
        return found, tuned

    def _train(self, train, seconds: float, arm_id: str, *, max_length: int | None = None,
               seed_offset: int = 0):
        if self.tuned is not None:  # --tune: the searched configuration, its rate and epochs
            t = self.tuned[1]
            tuning = t.model_copy(update={"max_length": max_length or t.max_length,
                                          "seed": t.seed + seed_offset})
        else:  # the default recipe, trained until its time is up; the LoRA family at the
            t = self.settings.tuning  # advisor's higher rate, other methods at their own
            rate = (self.settings.advisor.measure_learning_rate
                    if isinstance(t.tuner, Lora) else t.learning_rate)
            tuning = t.model_copy(update={"learning_rate": rate, "epochs": 20.0,
                                          "seed": t.seed + seed_offset,
                                          "max_length": max_length or t.max_length})
        run = Run(self.settings, self.workspace, tuning, self.tokenizer, train,
                  scratch=self.scratch / f"start-{arm_id}")

        def progress(event: RunEvent) -> None:
            if isinstance(event, Step):
                self.progress(arm_id, f"training on {len(train)}: step {event.step}/"
                              f"{event.total}, loss {event.loss:.3f}")

        started = time.perf_counter()
        trained = run.execute(progress=progress, deadline=time.monotonic() + seconds)
        # Merged (where the method folds into the weights), the adapter answers the same at
        # the base model's speed.
        return t.tuner.for_inference(trained.model), time.perf_counter() - started


def majority_baseline(train, held) -> tuple[str, float]:
    """The train split's most common label, and the share of held-out targets it matches."""
    label, _ = Counter(ex.target.strip() for ex in train).most_common(1)[0]
    return label, round(sum(ex.target.strip() == label for ex in held) / len(held), 4)


def trivial_answers(held, scorer) -> tuple[str, float]:
    """For free text: the better of answering nothing and copying the input, and its score."""
    def score(answer_of) -> float:
        return round(sum(scorer.score(answer_of(ex), ex.answers)[scorer.primary]
                         for ex in held) / len(held), 4)

    empty, copy = score(lambda ex: ""), score(lambda ex: ex.question)
    return ("copying the input", copy) if copy > empty else ("an empty answer", empty)


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
    measurement, strategy = decide(measurement, static, scores, has_docs,
                                   margin=settings.advisor.verdict_margin)
    advice = advisor.advise(description, facts, recommend=strategy)
    label = "low" if not measurement.works else "high" if not measurement.tied else "medium"
    return advice.model_copy(update={"measurement": measurement, "confidence_label": label})
