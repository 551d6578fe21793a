"""Packing: several encoded examples in each training row.

Positions restart at each example's first token and the batch carries ``position_ids`` instead
of an attention mask: transformers then reads each run of positions as its own sequence and
keeps attention within it (``masking_utils.find_packed_sequence_indices``; only without a KV
cache, hence ``use_cache=False`` in the loss), so a packed row gives every example the loss it
has alone (tested). ``tuning.packing`` turns it on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graftlm.tuning.data import IGNORE, Encoded


@dataclass
class Packed:
    """Several encoded examples in one row: their tokens and labels end to end, and positions
    that restart at each example's first token."""

    input_ids: list[int]
    labels: list[int]
    positions: list[int]


def pack(encoded: Sequence[Encoded], width: int) -> list[Packed]:
    """Examples into rows of at most ``width`` tokens, longest first, each into the first row
    with room for it (first-fit decreasing)."""
    rows: list[list[Encoded]] = []
    room: list[int] = []
    for e in sorted(encoded, key=lambda e: -len(e.input_ids)):
        n = len(e.input_ids)
        slot = next((r for r, free in enumerate(room) if n <= free), None)
        if slot is None:
            rows.append([])
            room.append(width)
            slot = len(rows) - 1
        rows[slot].append(e)
        room[slot] -= n
    return [Packed([t for e in row for t in e.input_ids], [t for e in row for t in e.labels],
                   [p for e in row for p in range(len(e.input_ids))]) for row in rows]


def collate_packed(rows: Sequence[Packed], pad: int) -> dict:
    """Right-pad packed rows; the padding is one more sequence of its own, without labels."""
    import torch

    width = max(len(row.input_ids) for row in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.arange(width).repeat(len(rows), 1)
    for i, row in enumerate(rows):
        n = len(row.input_ids)
        ids[i, :n] = torch.tensor(row.input_ids)
        labels[i, :n] = torch.tensor(row.labels)
        positions[i, :n] = torch.tensor(row.positions)
        positions[i, n:] = torch.arange(width - n)
    return {"input_ids": ids, "position_ids": positions, "labels": labels,
            "tokens": torch.tensor(sum(len(row.input_ids) for row in rows))}
