"""The arms of measured advice: which strategies are measured, and what one arm's run records.

Each arm stands for a strategy of the static advice (``rag_lora`` for ``hybrid``); an
:class:`ArmRun` collects its per-example scores, costs and a few samples, and becomes the
:class:`~advisor.schema.ArmResult` of the advice's ``measurement`` block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graftlm.advisor.schema import ArmResult
from graftlm.core.stats import bootstrap_ci, rounded

ARMS = (("zero_shot", "prompting", "Zero-shot prompting"),
        ("few_shot", "few_shot", "Few-shot prompting"),
        ("rag", "rag", "RAG"),
        ("lora", "lora", "LoRA adapter"),
        ("rag_lora", "hybrid", "RAG + LoRA"))
# Arms that prompt a model behind another endpoint (``--compare``), after the local ones.
COMPARED = ("big_zero_shot", "big_few_shot", "big_rag")
ARM_ORDER = {arm_id: i for i, arm_id in enumerate([a for a, _, _ in ARMS] + list(COMPARED))}
# The learning-curve point: LoRA trained on part of the train split. Not an arm of the verdict,
# but a run of its own, reported on its own line.
CURVE = ("lora_half", "lora", "LoRA on half the data")


@dataclass
class ArmRun:
    id: str
    strategy: str
    title: str
    status: str = "skipped"
    reason: str | None = None
    scores: list[float] = field(default_factory=list)  # the primary metric, per example
    metrics: dict[str, float] = field(default_factory=dict)  # every metric's mean
    build_seconds: float = 0.0
    seconds_per_query: float | None = None
    train_examples: int = 0
    samples: list[dict] = field(default_factory=list)
    tokens_per_query: tuple[float, float] | None = None  # (prompt, completion), when counted
    cost_per_1k: float | None = None  # priced arms only (--compare-price)
    seeds: int = 1  # training seeds whose per-example scores were averaged

    def result(self) -> ArmResult:
        score = low = high = None
        if self.status == "measured":
            score = sum(self.scores) / len(self.scores)
            low, high = bootstrap_ci(self.scores)
        return ArmResult(id=self.id, strategy=self.strategy, title=self.title,
                         status=self.status, reason=self.reason,
                         score=rounded(score), ci_low=rounded(low), ci_high=rounded(high),
                         build_seconds=round(self.build_seconds, 1),
                         seconds_per_query=rounded(self.seconds_per_query),
                         train_examples=self.train_examples, samples=self.samples,
                         metrics=self.metrics, tokens_per_query=self.tokens_per_query,
                         cost_per_1k=rounded(self.cost_per_1k), seeds=self.seeds)
