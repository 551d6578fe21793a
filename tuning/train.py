"""Training adapters of every method (and full fine-tunes) with a small, explicit loop.

The loop is deliberately plain: length-grouped batches padded to their longest member (little
padding waste, exact masking), AdamW with linear warm-up and decay, gradient clipping,
evaluation on a held-out split every ``eval_every`` steps (loss and a generation metric), early
stopping, the best weights kept, and a checkpoint after every evaluation so an interrupted run
resumes where it stopped. On a CPU it trains in float32: this machine has no bf16 arithmetic
(bf16 backward passes ran about 30x slower than float32 here).

The same loop runs under ``accelerate launch`` (data parallel over processes or GPUs; FSDP and
DeepSpeed configurations are accelerate's, passed through): each process takes its own batch of
every step from the one shared length-grouped plan, gradients are averaged by accelerate, and
every process evaluates the same held-out split with the same synchronised weights, so early
stopping decides identically everywhere. Only the main process reports, checkpoints and
publishes. A step is then ``num_processes`` batches.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from graftlm.core.errors import TrainingError
from graftlm.core.padding import pad_id
from graftlm.core.settings import TuningSettings
from graftlm.tuning import checkpoint as checkpoints
from graftlm.tuning import fast_lora
from graftlm.tuning.batching import batches, collate
from graftlm.tuning.data import IGNORE, Example, encode
from graftlm.tuning.evaluate import Scoring
from graftlm.tuning.events import EvalPoint, Evaluated, Note, Progress, Step
from graftlm.tuning.loss import eval_loss, labelled_loss
from graftlm.tuning.metrics import mean
from graftlm.tuning.packing import pack


@dataclass
class TrainResult:
    """What a run produced: the model with its best weights loaded, and the history."""

    model: object
    metric_name: str
    base_metric: float
    base_loss: float
    best: EvalPoint
    history: list[EvalPoint] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    train_tokens: int = 0
    stopped_early: bool = False
    main_process: bool = True
    base_metrics: dict[str, float] = field(default_factory=dict)
    best_scores: list[float] = field(default_factory=list)  # per held-out example, at best


class Schedule:
    """The learning-rate factor of a step: linear warmup over ``warmup_ratio`` of the steps,
    then linear decay to zero at the last. A deadline re-plans the step count after a few
    steps (:meth:`plan`), and the warmup with it: a run cut from 220 planned steps to 10 would
    otherwise spend all ten warming up to a rate it never reaches."""

    def __init__(self, total: int, warmup_ratio: float):
        self.warmup_ratio = warmup_ratio
        self.plan(total)

    def plan(self, total: int) -> None:
        self.total = total
        self.warmup = max(1, int(total * self.warmup_ratio))

    def __call__(self, step: int) -> float:
        return min((step + 1) / self.warmup,
                   max(0.0, (self.total - step) / max(1, self.total - self.warmup)))


@dataclass
class RunState:
    """Where a run stands: what a checkpoint saves and a resumed run starts from."""

    step: int
    best: EvalPoint
    best_weights: dict
    best_scores: list[float]  # per held-out example, at the best evaluation
    history: list[EvalPoint] = field(default_factory=list)
    bad_evals: int = 0  # evaluations since the last improvement
    tokens: int = 0  # real (non-padding) tokens trained on


def train(model, tokenizer, train_examples: Sequence[Example], eval_examples: Sequence[Example],
          settings: TuningSettings, *, checkpoint: Path | None = None,
          resume: bool = False, progress: Progress | None = None,
          deadline: float | None = None) -> TrainResult:
    """Train ``model`` (made ready for ``settings.method`` by :func:`tuning.methods.prepare`:
    wrapped by peft, or with only the weights to train left trainable) and return the best
    weights.

    Without ``eval_examples`` nothing is evaluated and the last weights are kept. With a
    ``deadline`` (a ``time.monotonic()`` value) the run is shortened to end by then: the step
    count is re-planned from the measured step time after a few steps, so the learning-rate
    schedule still decays to zero.
    """
    import numpy as np
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    world, rank = accelerator.num_processes, accelerator.process_index
    main = accelerator.is_main_process
    if not main or progress is None:
        progress = lambda _event: None  # noqa: E731
    torch.manual_seed(settings.seed)
    enc_train = [encode(ex, tokenizer, settings.max_length) for ex in train_examples]
    # An example whose answer truncation cut off entirely has nothing to learn from.
    enc_train = [e for e in enc_train if any(label != IGNORE for label in e.labels)]
    if not enc_train:
        raise TrainingError(f"no training example keeps any of its answer within "
                            f"tuning.max_length = {settings.max_length} tokens; raise it.")
    run_id = checkpoints.fingerprint(enc_train, settings, settings.plain)
    if settings.packing:  # a step is then batch_size rows of several examples each
        enc_train = pack(enc_train, settings.max_length)
    held = HeldOut(model, tokenizer, eval_examples, settings,
                   Scoring.of(tokenizer, eval_examples, labels_from=train_examples))
    base_point = held.base(settings.tuner)
    steps_per_epoch = math.ceil(math.ceil(len(enc_train) / settings.batch_size) / world)
    total = settings.max_steps or max(1, math.ceil(steps_per_epoch * settings.epochs))
    params = [p for p in model.parameters() if p.requires_grad]
    lr = settings.peak_learning_rate
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = Schedule(total, settings.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    runner, optimizer = accelerator.prepare(model, optimizer)
    state = RunState(0, base_point, _trainable_state(model), list(held.scores))
    rng = np.random.default_rng(settings.seed + rank)  # the LoRA dropout masks' stream
    if resume and checkpoint is not None:
        saved = checkpoints.load(checkpoint, run_id, lambda line: progress(Note(line)))
        if saved is not None:
            state = _resume(saved, model, optimizer, scheduler, rng)
    started = time.perf_counter()
    model.train()
    stopped_early = False
    steps_here = 0
    epoch = state.step // steps_per_epoch
    pad = pad_id(tokenizer)
    # LoRA layers run fused while training (tuning/fast_lora.py); peft's own forward after.
    unfuse = (lambda: None) if settings.plain else fast_lora.install(model, rng)
    try:
        while state.step < total and not stopped_early:
            plan = batches(enc_train, settings.batch_size, settings.seed + epoch)
            for local in range(state.step - epoch * steps_per_epoch, steps_per_epoch):
                if state.step >= total:
                    break
                # Every process takes its own batch of this step; the last step wraps around so
                # that all processes run the same number of forward and backward passes.
                batch_ids = plan[(local * world + rank) % len(plan)]
                batch = collate([enc_train[i] for i in batch_ids], pad)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                loss = labelled_loss(runner, batch)
                seen = loss.detach()
                if world > 1:  # one verdict everywhere, so no process waits on a stopped one
                    seen = accelerator.reduce(seen, reduction="mean")
                if not torch.isfinite(seen):
                    raise TrainingError(
                        f"the loss became {float(seen)} at step {state.step + 1}; training "
                        f"diverged. Lower the learning rate (now {lr:g}) and run again.")
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                tokens = batch["tokens"]
                if world > 1:
                    tokens = accelerator.reduce(tokens, reduction="sum")
                state.tokens += int(tokens)
                steps_here += 1
                if deadline is not None and steps_here == 3:
                    per_step = (time.perf_counter() - started) / 3
                    room = int((deadline - time.monotonic()) / per_step)
                    total = max(state.step + 1, min(total, state.step + room))
                    schedule.plan(total)
                elapsed = time.perf_counter() - started
                progress(Step(state.step, total, float(seen), elapsed))
                if not eval_examples or not (state.step % settings.eval_every == 0
                                             or state.step == total):
                    continue
                point = held.evaluate(state.step)
                state.history.append(point)
                # The first trained evaluation always replaces the base model's: an adapter is
                # published to be used, and an untuned model can already pick labels well.
                if state.best is base_point or (point.metric, -point.loss) > (
                        state.best.metric, -state.best.loss):
                    state.best, state.bad_evals = point, 0
                    state.best_weights = _trainable_state(model)
                    state.best_scores = list(held.scores)
                else:
                    state.bad_evals += 1
                progress(Evaluated(state.step, total, point, held.metric, elapsed))
                if checkpoint is not None and main:
                    checkpoints.save(checkpoint, state.step, _payload(
                        run_id, model, optimizer, scheduler, state, rng),
                        settings.keep_checkpoints)
                accelerator.wait_for_everyone()
                if state.bad_evals >= settings.patience:
                    stopped_early = True
                    break
            epoch += 1
    finally:
        unfuse()
    if eval_examples:
        _restore(model, state.best_weights)
    else:
        state.best = EvalPoint(state.step, math.nan, math.nan)
    return TrainResult(model, held.metric, base_point.metric, base_point.loss, state.best,
                       state.history, state.step, round(time.perf_counter() - started, 1),
                       state.tokens, stopped_early, main, base_point.metrics,
                       state.best_scores)


class HeldOut:
    """The held-out split as a run evaluates it: generated answers scored by the task's metric,
    and the loss; ``scores`` keeps the latest evaluation's per-example values."""

    def __init__(self, model, tokenizer, examples: Sequence[Example], settings: TuningSettings,
                 scoring: Scoring):
        self.model, self.tokenizer, self.examples = model, tokenizer, examples
        self.settings, self.scoring = settings, scoring
        self.encoded = [encode(ex, tokenizer, settings.max_length) for ex in examples]
        self.metric = scoring.scorer.primary if examples else "none"
        self.scores: list[float] = []

    def evaluate(self, step: int) -> EvalPoint:
        if not self.examples:
            return EvalPoint(step, math.nan, math.nan)
        result = self.scoring.answers(self.model, self.tokenizer, self.examples)
        self.scores = result.primary()
        loss = eval_loss(self.model, self.encoded, pad_id(self.tokenizer),
                         self.settings.batch_size)
        return EvalPoint(step, round(loss, 4), round(mean(self.scores), 4), result.means())

    def base(self, method) -> EvalPoint:
        """The base model's point, before training: as the model is for a method that starts as
        the base (a PiSSA model before training *is* the base, W_res + B·A = W, while switching
        it off would leave W_res), else with the method switched off."""
        if not self.examples or method.starts_as_base:
            return self.evaluate(0)
        with method.switched_off(self.model):
            return self.evaluate(0)


def _trainable_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _restore(model, weights: dict) -> None:
    import torch

    params = dict(model.named_parameters())
    with torch.no_grad():
        for key, value in weights.items():
            params[key].copy_(value)


def _payload(run_id: dict, model, optimizer, scheduler, state: RunState, rng) -> dict:
    """A checkpoint's contents: tensors, numbers and strings only (see tuning/checkpoint.py)."""
    import torch

    plain_state = {**vars(state), "best": asdict(state.best),
                   "history": [asdict(p) for p in state.history]}
    return {"fingerprint": run_id, "trainable": _trainable_state(model),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "state": plain_state,
            "rng": {"torch": torch.get_rng_state(), "numpy": json.dumps(rng.bit_generator.state)}}


def _resume(saved: dict, model, optimizer, scheduler, rng) -> RunState:
    import torch

    trainable = {k for k, v in model.named_parameters() if v.requires_grad}
    if set(saved["trainable"]) != trainable:
        raise TrainingError("the checkpoint was made with other settings (different trainable "
                            "weights); start again without --resume.")
    _restore(model, saved["trainable"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["torch"])
    rng.bit_generator.state = json.loads(saved["rng"]["numpy"])
    saved_state = saved["state"]
    return RunState(**{**saved_state, "best": EvalPoint(**saved_state["best"]),
                       "history": [EvalPoint(**p) for p in saved_state["history"]]})
