"""A training run: examples, a method and its settings in; the trained model and its figures out.

``graft train`` (:mod:`tuning.pipeline`), every trial of an ``--auto`` search (:mod:`tuning.auto`)
and measured advice's adapter arms (:mod:`advisor.measure`) all train through :class:`Run`: load
the base model, let the method make it ready, train. What differs between them — where the run
checkpoints, whether it has a deadline, who listens to its progress — is an argument of
:meth:`Run.execute`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graftlm.core.loader import load_base
from graftlm.core.settings import Settings, TuningSettings
from graftlm.core.workspace import Workspace
from graftlm.tuning.data import Example, prompt_ids
from graftlm.tuning.events import Note, Progress, Ready
from graftlm.tuning.methods import prepare
from graftlm.tuning.train import TrainResult, train


@dataclass(frozen=True)
class Trained:
    """A finished run: the model with its best weights, the run's figures, and the method's
    record of what trained (for the card)."""

    result: TrainResult
    record: dict

    @property
    def model(self):
        return self.result.model


@dataclass(frozen=True)
class Run:
    """One run on the configured base model.

    Args:
        settings: All settings; the run reads ``models`` (the base).
        workspace: Where the base model is prepared.
        tuning: How to train (the method and its settings; may differ from
            ``settings.tuning``: a search's trial, measured advice's recipe).
        tokenizer: The base model's tokenizer.
        train: The examples trained on.
        held: Held-out examples, evaluated during training (none: the last weights are kept).
        scratch: Where the method may keep its starting state (PiSSA's initial adapter).
        four_bit: Train on a frozen 4-bit base (QLoRA).
    """

    settings: Settings
    workspace: Workspace
    tuning: TuningSettings
    tokenizer: object
    train: Sequence[Example]
    held: Sequence[Example] = ()
    scratch: Path | None = None
    four_bit: bool = False

    def execute(self, *, checkpoint: Path | None = None, resume: bool = False,
                progress: Progress | None = None, deadline: float | None = None) -> Trained:
        """Load the base, make it ready by the method, and train; see
        :func:`tuning.train.train` for ``checkpoint``, ``resume`` and ``deadline``."""
        model, _, _ = load_base(self.settings.models, self.workspace, for_training=True,
                                four_bit=self.four_bit)
        if self.four_bit:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model)
        model, record = prepare(model, self.tuning, init_dir=self.scratch,
                                start_ids=prompt_ids(self.train[0], self.tokenizer))
        if progress is not None:
            progress(Ready(record))
            for line in self.tuning.tuner.notes(record):
                progress(Note(line))
        result = train(model, self.tokenizer, self.train, self.held, self.tuning,
                       checkpoint=checkpoint, resume=resume, progress=progress,
                       deadline=deadline)
        return Trained(result, record)
