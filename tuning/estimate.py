"""How long training takes: one formula, shared by ``graft train --check`` and the advisor's plan.

Training compute is about 6·N FLOPs a token for full fine-tuning (forward, and backward through
activations and weights) and about 4·N for LoRA (no weight gradients for the frozen base).
"""

from __future__ import annotations


def training_minutes(tokens: float, params: int, train_tflops: float, *,
                     full: bool = False) -> float:
    """Wall time to train ``params`` parameters on ``tokens`` tokens at ``train_tflops``
    sustained TFLOP/s."""
    return tokens * (6 if full else 4) * params / (train_tflops * 1e12) / 60
