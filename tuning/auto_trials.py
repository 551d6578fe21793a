"""What an auto-PEFT search found: each trial's figures, the Pareto front of score against
trainable parameters and time, and the choice — the smallest trial within the noise of the
best (:mod:`tuning.auto` runs the search)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from graftlm.core.stats import paired_difference_ci
from graftlm.tuning.methods import METHODS

MIN_PAIRED = 10  # validation examples below which the best trial is chosen outright


@dataclass
class TrialFigures:
    """One trial: what it tried and how it did on the validation split."""

    number: int
    state: str  # complete, pruned or failed
    params: dict
    score: float | None = None
    trainable: int | None = None
    seconds: float | None = None
    scores: list[float] = field(default_factory=list)  # per validation example

    @property
    def label(self) -> str:
        return describe(self.params)


@dataclass
class Search:
    """What a search found: every trial, the Pareto front, the best and the chosen trial."""

    study: str
    metric: str
    validation: int
    trials: list[TrialFigures]
    best: int | None
    chosen: int | None
    pareto: list[int]
    budget_s: float
    seconds: float

    def trial(self, number: int) -> TrialFigures:
        return next(t for t in self.trials if t.number == number)

    @classmethod
    def from_record(cls, record: dict) -> Search:
        """The search a card (or measured advice) recorded, per-example scores left out."""
        trials = [TrialFigures(**{**t, "scores": []}) for t in record["trials"]]
        return cls(**{**record, "trials": trials})

    def summary(self) -> str:
        """One sentence: what was chosen, out of how many trials, on what."""
        chosen = self.trial(self.chosen)
        stopped = sum(t.state != "complete" for t in self.trials)
        cut = ", cut short by the budget" if chosen.state == "cut" else ""
        return (f"trial {chosen.number} ({chosen.label}{cut}) chosen of {len(self.trials)} trials "
                f"({stopped} pruned, cut or failed) in {self.seconds:.0f} s: {self.metric} "
                f"{chosen.score:.3f} on {self.validation} validation examples")

    def record(self) -> dict:
        """The card's account of the search (per-example scores left out)."""
        out = asdict(self)
        for trial in out["trials"]:
            trial.pop("scores")
        return out


def describe(params: dict) -> str:
    """A trial's settings in a few words: ``lora r16 α32 all-linear lr 2e-4 2ep``."""
    method = params.get("method", "lora")
    parts = [method, *(METHODS[method].search_words(params) if method in METHODS else [])]
    rate = next((v for k, v in params.items() if k.startswith("lr_")), None)
    if rate is not None:
        parts.append(f"lr {rate:.0e}")
    if "epochs" in params:
        parts.append(f"{params['epochs']:g}ep")
    return " ".join(parts)


def pareto(trials: list[TrialFigures]) -> list[int]:
    """The finished trials no other beats on score, trainable parameters and time at once."""
    done = [t for t in trials if t.state == "complete"]

    def beats(a: TrialFigures, b: TrialFigures) -> bool:
        at_least = a.score >= b.score and a.trainable <= b.trainable and a.seconds <= b.seconds
        return at_least and (a.score, -a.trainable, -a.seconds) != (b.score, -b.trainable,
                                                                     -b.seconds)

    return [t.number for t in done if not any(beats(o, t) for o in done)]


def choose(trials: list[TrialFigures], seed: int = 0) -> tuple[int | None, int | None]:
    """(best, chosen): the best finished trial by score, and the smallest finished trial whose
    paired 95% interval of per-example differences against the best reaches zero. When the
    budget's end cut every trial short, the best of those cut (scored at the step it reached)
    is both: a partial measurement, but better than none."""
    done = [t for t in trials if t.state == "complete"]
    if not done:
        cut = [t for t in trials if t.state == "cut" and t.score is not None]
        if not cut:
            return None, None
        best = max(cut, key=lambda t: (t.score, -t.trainable, -t.number))
        return best.number, best.number
    # Ties broken as the Pareto front breaks them (fewer parameters, then less time), so that
    # the choice is never a trial another one beats on every count.
    best = max(done, key=lambda t: (t.score, -t.trainable, -t.seconds, -t.number))
    if len(best.scores) < MIN_PAIRED:  # too few examples for an interval to mean anything
        return best.number, best.number
    near = [t for t in done if t is best or paired_difference_ci(
        t.scores, best.scores, seed=seed)[1] >= 0]
    chosen = min(near, key=lambda t: (t.trainable, -t.score, t.seconds, t.number))
    return best.number, chosen.number
