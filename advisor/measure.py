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

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from advisor.arms import ARMS, ArmRun
from advisor.schema import Advice, LearningCurve, Measurement
from advisor.shots import demonstrations, with_shots
from advisor.verdict import decide, learning_curve
from graftlm.errors import InputError
from graftlm.settings import Settings
from graftlm.workspace import Workspace

MIN_EXAMPLES = 10
MIN_TRAIN_SECONDS = 30.0
CURVE_FRACTION = 0.5
RAG_K = 3
RAG_TOKENS = 512

Progress = Callable[[str, str], None]  # (arm id, status text)


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
        from tuning.data import check_data, require_clean
        from tuning.evaluate import answer_budget
        from tuning.metrics import classify_target
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
        arms = {arm_id: ArmRun(arm_id, strategy, title) for arm_id, strategy, title in ARMS}

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

    def _measure(self, arm: ArmRun, model, prompts, *, build: float = 0.0,
                 train_examples: int = 0) -> None:
        from tuning.evaluate import generate_answers
        from tuning.metrics import example_scores

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
        curve_arm = ArmRun("lora", "lora", "LoRA on half the data")
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
