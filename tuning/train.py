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
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from graftlm.errors import TrainingError
from graftlm.padding import pad_id
from graftlm.settings import TuningSettings
from graftlm.tuning.data import IGNORE, Encoded, Example, encode
from graftlm.tuning import checkpoint as checkpoints
from graftlm.tuning import fast_lora
from graftlm.tuning.evaluate import answer_budget, evaluate_answers
from graftlm.tuning.head_loss import head_loss, hidden_states_out, output_head
from graftlm.tuning.packing import Packed, collate_packed, pack
from graftlm.tuning.metrics import Scorer, mean


@dataclass
class EvalPoint:
    step: int
    loss: float
    metric: float  # the task's primary metric
    metrics: dict[str, float] = field(default_factory=dict)  # every metric of the task


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


Progress = Callable[[dict], None]


def split(examples: Sequence[Example], fraction: float, cap: int, seed: int
          ) -> tuple[list[Example], list[Example]]:
    """A reproducible train/held-out split (stratified by target when targets are labels)."""
    rng = random.Random(seed)
    by_target: dict[str, list[Example]] = {}
    for ex in examples:
        by_target.setdefault(ex.target, []).append(ex)
    stratify = len(by_target) <= max(2, len(examples) // 5)
    groups = list(by_target.values()) if stratify else [list(examples)]
    n_eval = max(1, min(cap, round(len(examples) * fraction)))
    train, held = [], []
    for group in groups:
        group = group[:]
        rng.shuffle(group)
        take = round(n_eval * len(group) / len(examples))
        held += group[:take]
        train += group[take:]
    if not held:
        held, train = train[:1], train[1:]
    rng.shuffle(train)
    return train, held[:cap]


def batches(encoded: Sequence[Encoded], batch_size: int, seed: int) -> list[list[int]]:
    """Length-grouped batches: shuffle, sort within windows of 50 batches, shuffle batches."""
    rng = random.Random(seed)
    order = list(range(len(encoded)))
    rng.shuffle(order)
    window = batch_size * 50
    out = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: len(encoded[i].input_ids))
        out += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def collate(items: Sequence[Encoded] | Sequence[Packed], pad: int):
    """Right-pad to the longest item; padding is masked out of attention and labels (packed
    rows: :func:`tuning.packing.collate_packed`). ``tokens`` counts the real tokens."""
    import torch

    if isinstance(items[0], Packed):
        return collate_packed(items, pad)
    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, e in enumerate(items):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "tokens": mask.sum()}


def labelled_loss(model, batch: dict):
    """Mean next-token cross-entropy over the labelled positions.

    The same loss as the model's own ``labels=`` path, without its float32 logits over every
    position: for retrieval-shaped examples (hundreds of prompt tokens, a short answer) those
    are gigabytes a batch (8 × 1,400 × 49,152 × 4 bytes ≈ 2.2 GB, shared/DESIGN.md), and the
    head is a fifth of the embedded model's forward FLOPs. The head runs on exactly the
    labelled positions, in chunks, through :func:`tuning.head_loss.head_loss`; a model whose
    logits are more than a plain projection keeps its own head, run on the columns where some
    row has a label.
    """
    import torch

    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    positions = keep.any(0).nonzero().squeeze(-1)
    keep, targets = keep[:, positions], targets[:, positions]
    inputs = {"input_ids": batch["input_ids"], "logits_to_keep": positions, "use_cache": False}
    for key in ("attention_mask", "position_ids"):  # a packed batch has positions instead
        if key in batch:
            inputs[key] = batch[key]
    head = output_head(model)
    if head is None:
        logits = model(**inputs).logits
        return torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
            ignore_index=IGNORE, reduction="sum") / keep.sum().clamp(min=1)
    with hidden_states_out(model, head):
        hidden = model(**inputs).logits
    return head_loss(hidden[keep], head.weight, targets[keep])


def eval_loss(model, encoded: Sequence[Encoded], pad: int, batch_size: int) -> float:
    import torch

    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(encoded), batch_size):
            batch = collate(encoded[start:start + batch_size], pad)
            batch = {k: v.to(model.device) for k, v in batch.items()}
            n = int((batch["labels"][:, 1:] != IGNORE).sum())
            if n:
                total += float(labelled_loss(model, batch)) * n
            tokens += n
    model.train(was_training)
    return total / max(tokens, 1)


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
    pad = pad_id(tokenizer)
    enc_train = [encode(ex, tokenizer, settings.max_length) for ex in train_examples]
    # An example whose answer truncation cut off entirely has nothing to learn from.
    enc_train = [e for e in enc_train if any(label != IGNORE for label in e.labels)]
    if not enc_train:
        raise TrainingError(f"no training example keeps any of its answer within "
                            f"tuning.max_length = {settings.max_length} tokens; raise it.")
    plain = settings.plain  # the model's own weights train: no adapter to switch off
    run_id = checkpoints.fingerprint(enc_train, settings, plain)
    if settings.packing:  # a step is then batch_size rows of several examples each
        enc_train = pack(enc_train, settings.max_length)
    enc_eval = [encode(ex, tokenizer, settings.max_length) for ex in eval_examples]
    # The labels of a label task are every target the data has, not only the held-out ones.
    scorer = Scorer.for_targets([ex.target for ex in (*train_examples, *eval_examples)])
    budget = answer_budget(tokenizer, [ex.target for ex in eval_examples])

    last_scores: list[float] = []  # the latest evaluation's, per example

    def evaluate(step: int) -> EvalPoint:
        if not eval_examples:
            return EvalPoint(step, math.nan, math.nan), "none"
        result = evaluate_answers(model, tokenizer, eval_examples, scorer,
                                  max_new_tokens=budget)
        last_scores[:] = result.primary()
        loss = eval_loss(model, enc_eval, pad, settings.batch_size)
        return EvalPoint(step, round(loss, 4), round(mean(result.primary()), 4),
                         result.means()), scorer.primary

    base_point, metric_name = _base_eval(model, evaluate, settings) if eval_examples else \
        evaluate(0)
    steps_per_epoch = math.ceil(math.ceil(len(enc_train) / settings.batch_size) / world)
    total = settings.max_steps or max(1, math.ceil(steps_per_epoch * settings.epochs))
    params = [p for p in model.parameters() if p.requires_grad]
    lr = settings.peak_learning_rate
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = Schedule(total, settings.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    runner, optimizer = accelerator.prepare(model, optimizer)
    state = {"step": 0, "best": base_point, "best_weights": _trainable_state(model),
             "history": [], "bad_evals": 0, "tokens": 0, "best_scores": list(last_scores)}
    rng = np.random.default_rng(settings.seed + rank)  # the LoRA dropout masks' stream
    if resume and checkpoint is not None:
        saved = checkpoints.load(checkpoint, run_id, lambda line: progress({"note": line}))
        if saved is not None:
            _resume(saved, model, optimizer, scheduler, state, rng)
    started = time.perf_counter()
    model.train()
    stopped_early = False
    steps_here = 0
    epoch = state["step"] // steps_per_epoch
    # LoRA layers run fused while training (tuning/fast_lora.py); peft's own forward after.
    unfuse = (lambda: None) if plain else fast_lora.install(model, rng)
    try:
        while state["step"] < total and not stopped_early:
            plan = batches(enc_train, settings.batch_size, settings.seed + epoch)
            for local in range(state["step"] - epoch * steps_per_epoch, steps_per_epoch):
                if state["step"] >= total:
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
                        f"the loss became {float(seen)} at step {state['step'] + 1}; training "
                        f"diverged. Lower the learning rate (now {lr:g}) and run again.")
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                tokens = batch["tokens"]
                if world > 1:
                    tokens = accelerator.reduce(tokens, reduction="sum")
                state["tokens"] += int(tokens)
                steps_here += 1
                if deadline is not None and steps_here == 3:
                    per_step = (time.perf_counter() - started) / 3
                    room = int((deadline - time.monotonic()) / per_step)
                    total = max(state["step"] + 1, min(total, state["step"] + room))
                    schedule.plan(total)
                elapsed = time.perf_counter() - started
                progress({"step": state["step"], "total": total, "loss": float(seen),
                          "seconds": elapsed})
                if not eval_examples:
                    continue
                if state["step"] % settings.eval_every == 0 or state["step"] == total:
                    point, _ = evaluate(state["step"])
                    state["history"].append(point)
                    # The first trained evaluation always replaces the base model's: an adapter is
                    # published to be used, and an untuned model can already pick labels well.
                    better = state["best"] is base_point or (point.metric, -point.loss) > (
                        state["best"].metric, -state["best"].loss)
                    if better:
                        state["best"], state["bad_evals"] = point, 0
                        state["best_weights"] = _trainable_state(model)
                        state["best_scores"] = list(last_scores)
                    else:
                        state["bad_evals"] += 1
                    progress({"step": state["step"], "total": total, "eval": point,
                              "metric": metric_name, "seconds": elapsed})
                    if checkpoint is not None and main:
                        checkpoints.save(checkpoint, state["step"], _payload(
                            run_id, model, optimizer, scheduler, state, rng),
                            settings.keep_checkpoints)
                    accelerator.wait_for_everyone()
                    if state["bad_evals"] >= settings.patience:
                        stopped_early = True
                        break
            epoch += 1
    finally:
        unfuse()
    if eval_examples:
        _restore(model, state["best_weights"])
    else:
        state["best"] = EvalPoint(state["step"], math.nan, math.nan)
    return TrainResult(model, metric_name, base_point.metric, base_point.loss, state["best"],
                       state["history"], state["step"], round(time.perf_counter() - started, 1),
                       state["tokens"], stopped_early, main, base_point.metrics,
                       state["best_scores"])


def _base_eval(model, evaluate, settings: TuningSettings):
    """Score the base model first: with peft, by switching the adapter off. A PiSSA model
    before training *is* the base (W_res + B·A = W), while switching it off would leave W_res."""
    if settings.plain or settings.method == "pissa":
        return evaluate(0)
    with model.disable_adapter():
        point, name = evaluate(0)
    return point, name


def _trainable_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _restore(model, weights: dict) -> None:
    import torch

    params = dict(model.named_parameters())
    with torch.no_grad():
        for key, value in weights.items():
            params[key].copy_(value)


def _payload(run_id: dict, model, optimizer, scheduler, state: dict, rng) -> dict:
    """A checkpoint's contents: tensors, numbers and strings only (see tuning/checkpoint.py)."""
    import torch

    return {"fingerprint": run_id, "trainable": _trainable_state(model),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "state": {**state, "best": asdict(state["best"]),
                      "history": [asdict(p) for p in state["history"]]},
            "rng": {"torch": torch.get_rng_state(), "numpy": json.dumps(rng.bit_generator.state)}}


def _resume(saved: dict, model, optimizer, scheduler, state: dict, rng) -> None:
    import torch

    trainable = {k for k, v in model.named_parameters() if v.requires_grad}
    if set(saved["trainable"]) != trainable:
        raise TrainingError("the checkpoint was made with other settings (different trainable "
                            "weights); start again without --resume.")
    _restore(model, saved["trainable"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    saved_state = saved["state"]
    state.update(saved_state, best=EvalPoint(**saved_state["best"]),
                 history=[EvalPoint(**p) for p in saved_state["history"]])
    torch.set_rng_state(saved["rng"]["torch"])
    rng.bit_generator.state = json.loads(saved["rng"]["numpy"])
