"""The advice document: what ``graft advise`` returns, and its ``--json`` schema.

The schema is versioned by :data:`SCHEMA_VERSION`; ``graft advise --schema`` prints it as JSON
Schema. Additive changes keep the version; renaming or removing a field bumps it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "graftlm.advice/v1"
StrategyId = Literal["prompting", "few_shot", "rag", "lora", "full_ft", "hybrid"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StrategyScore(_Model):
    strategy: StrategyId
    title: str
    rank: int = Field(ge=1, le=6)
    score: float = Field(description="Sum of prior, signal and rule terms.")
    probability: float = Field(ge=0, le=1, description="Softmax of the scores.")


class SignalFound(_Model):
    id: str
    title: str
    group: Literal["knowledge", "skill", "data", "constraint", "scope"]
    strength: float = Field(ge=0, le=1)
    method: Literal["wording", "meaning", "number", "flag", "file", "reader"] = Field(
        description="How it was found: a wording cue, similarity of meaning, a number, a flag "
        "(or an answer to a question), the user's files, or a reader model (--reader-url).")
    evidence: str = Field(description="The words of the description (or the flag) behind it.")
    span: tuple[int, int] | None = Field(None, description="Character offsets in the description.")
    negated_from: str | None = Field(None, description="The signal a negation turned into this.")
    similarity: float | None = None
    prototype: str | None = Field(None, description="The closest prototype sentence (meaning).")
    effects: dict[StrategyId, float] = Field(description="How it moved each strategy.")


class RuleApplied(_Model):
    id: str
    note: str
    effects: dict[StrategyId, float]


class Caveat(_Model):
    id: str
    text: str
    evidence: str = Field(description="The published source behind the caveat.")


class PlanStep(_Model):
    title: str
    command: str | None = None


class CostEstimate(_Model):
    base_model: str
    base_parameters: int | None
    train_examples: int | None = Field(None, description="Examples assumed for training.")
    train_tokens: int | None = None
    train_minutes: float | None = Field(None, description="Rough wall time on this machine.")
    train_memory_gb: float | None = None
    extra_prompt_tokens: int = Field(0, description="Tokens added to every request.")
    assumptions: list[str]


class Plan(_Model):
    strategy: StrategyId
    data: list[str] = Field(description="What data to gather, and how much.")
    steps: list[PlanStep]
    cost: CostEstimate


class ArmResult(_Model):
    """One measured (or skipped) arm of measured advice."""

    id: Literal["zero_shot", "few_shot", "rag", "lora", "rag_lora", "big_zero_shot",
                "big_few_shot", "big_rag"]
    strategy: StrategyId
    title: str
    status: Literal["measured", "skipped", "failed"]
    reason: str | None = Field(None, description="Why an arm was skipped or failed.")
    score: float | None = None
    ci_low: float | None = Field(None, description="Bootstrap 95% interval, lower end.")
    ci_high: float | None = None
    build_seconds: float = Field(0.0, description="Index build or training time.")
    seconds_per_query: float | None = None
    train_examples: int = Field(0, description="Training examples the arm used.")
    samples: list[dict] = Field(default_factory=list, description="A few answers, for people.")
    metrics: dict[str, float] = Field(default_factory=dict, description="The mean of every "
                                      "metric of the task (the primary one is `score`).")
    tokens_per_query: tuple[float, float] | None = Field(
        None, description="Mean prompt and completion tokens an endpoint counted (--compare).")
    cost_per_1k: float | None = Field(None, description="Cost of 1,000 queries at the prices "
                                      "given (--compare-price), from the tokens counted.")
    seeds: int = Field(1, ge=1, description="Training seeds whose per-example scores were "
                       "averaged (a second when budget was left and the arm tied the lead).")


class LearningCurve(_Model):
    fraction: float
    score_fraction: float
    score_full: float
    gain: float
    hint: str


class Measurement(_Model):
    """What ``graft advise --examples`` measured on the user's own data."""

    data: str
    metric: str = Field(description="The primary metric every arm's score, interval and the "
                        "verdict use: choice_accuracy (labels), f1 (free text).")
    metrics: list[str] = Field(default_factory=list, description="Every metric reported.")
    labels: list[str] = Field(default_factory=list, description="A label task's closed set.")
    judge: dict | None = Field(None, description="The judge that graded answers (url, model, "
                               "prompt); its mean grade is the arms' `judge` metric.")
    examples: int
    train_examples: int
    held_out: int
    held_out_lines: list[int] = Field(description="Lines of the held-out examples: every arm is "
                                      "scored on exactly these.")
    budget_seconds: float
    seconds: float
    arms: list[ArmResult]
    best: str | None = Field(None, description="The arm with the highest score.")
    tied: list[str] = Field(default_factory=list, description="Arms whose difference to the "
                            "best is within a paired bootstrap 95% interval.")
    verdict: str = Field(description="Why the recommendation follows from the measurements.")
    learning_curve: LearningCurve | None = None
    majority_label: str | None = Field(None, description="A label task's most common label in "
                                       "the train split: the floor any arm must clear.")
    majority_score: float | None = Field(None, description="The primary metric of always "
                                         "answering the majority label, on the held-out split.")
    trivial_name: str | None = Field(None, description="For free text: the better of "
                                     "answering nothing and copying the input.")
    trivial_score: float | None = Field(None, description="Its primary metric on the held-out "
                                        "split: the floor any arm must clear.")
    split: str = Field("", description="How the held-out split was sized, and why.")
    headline: str = Field("", description="The verdict in one line: the arm to build, or that "
                          "no arm works yet.")
    works: bool = Field(True, description="Whether the best arm beats the trivial baseline.")
    probabilities: dict[str, float] = Field(
        default_factory=dict, description="Each measured arm's probability of being the best, "
        "from a paired bootstrap over the held-out examples.")
    separate_with: int | None = Field(None, description="About how many held-out examples in "
                                      "all would separate the two leading arms, if tied.")
    would_change: list[str] = Field(default_factory=list,
                                    description="What would change the verdict.")
    search: dict | None = Field(None, description="With --tune: the auto-PEFT search on the "
                                "train split whose chosen configuration every LoRA arm trained "
                                "(its trials, Pareto front, best and chosen trial).")


class AnswerEffect(_Model):
    answer: str
    flag: str = Field(description="The command-line flag that states this answer.")
    recommendation: StrategyId = Field(description="What the advice would be with this answer.")
    probability: float = Field(ge=0, le=1, description="That strategy's probability then.")


class Question(_Model):
    """A fact the description left open whose answer would change the recommendation."""

    id: str
    text: str
    answers: list[AnswerEffect]


class Advice(_Model):
    schema_version: Literal["graftlm.advice/v1"] = SCHEMA_VERSION
    description: str
    recommendation: StrategyId
    confidence: float = Field(ge=0, le=1, description="Probability of the top strategy.")
    confidence_label: Literal["high", "medium", "low"]
    ranking: list[StrategyScore]
    signals: list[SignalFound]
    overridden: list[SignalFound] = Field(
        default_factory=list, description="Signals of the text that a flag overrode.")
    rules: list[RuleApplied]
    caveats: list[Caveat]
    plan: Plan
    semantic: bool = Field(description="Whether meaning-based matching was used.")
    measurement: Measurement | None = Field(
        None, description="Measured arms on the user's data (graft advise --measure).")
    questions: list[Question] = Field(
        default_factory=list, description="Facts the description left open that would change "
        "the recommendation, the most decisive first, with what each answer would recommend; "
        "on a terminal graft advise asks them.")


def json_schema() -> dict:
    """The JSON Schema of :class:`Advice`."""
    schema = Advice.model_json_schema()
    schema["$id"] = SCHEMA_VERSION
    return schema
