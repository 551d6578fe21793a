"""From examples to batches: the train/held-out split, length-grouped batch plans, and padded
tensors."""

from __future__ import annotations

import random
from collections.abc import Sequence

from graftlm.tuning.data import IGNORE, Encoded, Example
from graftlm.tuning.packing import Packed, collate_packed


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
    rows: :func:`tuning.packing.collate_packed`). ``tokens`` counts the real tokens, and
    ``prompt_lengths`` where each row's first answer token is (for methods that edit the
    prompt, :mod:`tuning.methods.loreft`)."""
    import torch

    if isinstance(items[0], Packed):
        return collate_packed(items, pad)
    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    prompts = torch.zeros(len(items), dtype=torch.long)
    for i, e in enumerate(items):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
        prompts[i] = next((j for j, label in enumerate(e.labels) if label != IGNORE), n)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "tokens": mask.sum(),
            "prompt_lengths": prompts}
