"""Few-shot prompts: demonstrations drawn from the train part, placed as earlier turns."""

from __future__ import annotations

import random
from dataclasses import replace


def demonstrations(train, count: int, seed: int, *, label_like: bool) -> list:
    """Few-shot demonstrations: for labels, one per label (most common first), then more."""
    rng = random.Random(seed)
    pool = list(train)
    rng.shuffle(pool)
    if not label_like:
        return pool[:min(count, 3)]  # long answers: a few, to keep prompts within reason
    by_label: dict[str, list] = {}
    for ex in pool:
        by_label.setdefault(ex.target, []).append(ex)
    order = sorted(by_label, key=lambda label: -len(by_label[label]))
    picked = []
    while len(picked) < count and any(by_label.values()):
        for label in order:
            if by_label[label] and len(picked) < count:
                picked.append(by_label[label].pop())
    rng.shuffle(picked)
    return picked


def with_shots(example, shots):
    """``example`` with the demonstrations as earlier turns, after its system message."""
    head = [m for m in example.messages[:1] if m[0] == "system"]
    turns = [turn for shot in shots for turn in shot.messages if turn[0] != "system"]
    return replace(example, messages=tuple(head + turns) + example.messages[len(head):])
