"""What a training run and an ``--auto`` search report while they work: one dataclass per kind
of event, so a listener matches on the type instead of guessing from a dict's keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class EvalPoint:
    """One evaluation on the held-out split."""

    step: int
    loss: float
    metric: float  # the task's primary metric
    metrics: dict[str, float] = field(default_factory=dict)  # every metric of the task


@dataclass(frozen=True)
class Note:
    """A line for the user (resuming from a checkpoint, what Spectrum chose)."""

    text: str


@dataclass(frozen=True)
class Ready:
    """The method made the base model ready: its record (trainable parameters, …)."""

    record: dict


@dataclass(frozen=True)
class Step:
    """A training step done."""

    step: int
    total: int
    loss: float
    seconds: float


@dataclass(frozen=True)
class Evaluated:
    """An evaluation done at ``step``; ``metric`` names ``point.metric``."""

    step: int
    total: int
    point: EvalPoint
    metric: str
    seconds: float


RunEvent = Note | Ready | Step | Evaluated
Progress = Callable[[RunEvent], None]


@dataclass(frozen=True)
class TrialEvent:
    """A step or evaluation of the running trial of a search."""

    trial: int
    label: str
    event: RunEvent
    elapsed: float
    budget: float


@dataclass(frozen=True)
class TrialsDone:
    """A search after a trial: how many finished and were pruned, and the best so far (a
    :class:`tuning.auto_trials.TrialFigures`)."""

    done: int
    pruned: int
    best: object | None
    elapsed: float
    budget: float


