"""The training loss on labelled positions, and the held-out loss."""

from __future__ import annotations

from collections.abc import Sequence

from graftlm.tuning.batching import collate
from graftlm.tuning.data import IGNORE, Encoded
from graftlm.tuning.head_loss import causal_lm, head_loss, hidden_states_out, output_head


def labelled_loss(model, batch: dict):
    """Mean next-token cross-entropy over the labelled positions.

    The same loss as the model's own ``labels=`` path, without its float32 logits over every
    position: for retrieval-shaped examples (hundreds of prompt tokens, a short answer) those
    are gigabytes a batch (8 × 1,400 × 49,152 × 4 bytes ≈ 2.2 GB, docs/design.md), and the
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
    if getattr(causal_lm(model), "reads_prompt_lengths", False):
        inputs["prompt_lengths"] = batch["prompt_lengths"]
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
