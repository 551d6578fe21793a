"""Spectrum (Hartford et al. 2024): which weight matrices are worth training, by signal-to-noise.

A weight matrix that is mostly noise has singular values like a random matrix's, all below the
Marchenko–Pastur edge: for an m×n matrix of independent entries the edge sits at σ·(1 + √β) in
the matrix's own scale, with β = min(m, n) / max(m, n). σ is not known, so — as in the paper's
reference implementation — it is estimated from the singular values themselves, robustly: their
interquartile range over 1.349 (a normal distribution's IQR in standard deviations). A matrix's
score is the mass of its singular values above the edge over the mass at or below it, divided by
its largest singular value so that matrices of one type but different scale compare.

Matrices are ranked within their module type (``self_attn.q_proj``, ``mlp.down_proj``, …:
the name without the layer number), and the top share of each type is trained in full while
everything else stays frozen — the paper trained the top 25% or 50%.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


_LAYER = re.compile(r"\.(\d+)\.")
IQR_TO_SIGMA = 1.349


@dataclass(frozen=True)
class Scored:
    """One weight matrix: its parameter name, module type and score."""

    name: str
    kind: str
    snr: float


def snr(weight) -> float:
    """The normalised signal-to-noise ratio of a 2-D ``weight`` (see the module docstring):
    ``inf`` when nothing but zeros is at or below the edge, 0 for an all-zero matrix."""
    import numpy as np

    singular = np.linalg.svd(np.asarray(weight, dtype=np.float64), compute_uv=False)
    rows, cols = weight.shape
    q25, q75 = np.quantile(singular, [0.25, 0.75])
    sigma = (q75 - q25) / IQR_TO_SIGMA
    edge = sigma * (1 + math.sqrt(min(rows, cols) / max(rows, cols)))
    if singular[0] == 0:
        return 0.0  # an all-zero matrix carries nothing
    signal, noise = singular[singular > edge].sum(), singular[singular <= edge].sum()
    if noise == 0:
        return math.inf
    return float(signal / noise / singular[0])


def module_kind(name: str) -> str | None:
    """``model.layers.3.mlp.down_proj.weight`` → ``mlp.down_proj``; ``None`` for a parameter
    outside the numbered layers (embeddings, the final norm, the output head)."""
    found = _LAYER.search(name)
    if not found or not name.endswith(".weight"):
        return None
    return name[found.end():].removesuffix(".weight")


def score(model) -> list[Scored]:
    """Every 2-D weight of the model's numbered layers, scored; best first within each type."""
    scored = []
    for name, param in model.named_parameters():
        kind = module_kind(name)
        if kind is None or param.ndim != 2:
            continue
        scored.append(Scored(name, kind, snr(param.detach().float().cpu().numpy())))
    return sorted(scored, key=lambda s: (s.kind, -s.snr, s.name))


def select(scored: list[Scored], share: float) -> list[Scored]:
    """The top ``share`` (0 < share <= 1) of each module type, at least one of each."""
    if not 0 < share <= 1:
        raise ValueError(f"the share of matrices to train must be in (0, 1], not {share}")
    chosen: list[Scored] = []
    kinds = dict.fromkeys(s.kind for s in scored)
    for kind in kinds:
        of_kind = [s for s in scored if s.kind == kind]
        chosen += of_kind[:max(1, round(share * len(of_kind)))]
    return chosen


def freeze_all_but(model, chosen: list[Scored]) -> int:
    """Leave only the ``chosen`` matrices trainable; returns how many parameters that is."""
    names = {s.name for s in chosen}
    trainable = 0
    for name, param in model.named_parameters():
        param.requires_grad = name in names
        trainable += param.numel() if name in names else 0
    return trainable
