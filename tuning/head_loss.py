"""Cross-entropy through the output head, computed only at labelled positions and in chunks.

The output head of the embedded model is 28M of its 135M parameters and projects onto 49,152
words. Training needs its logits only where a label is, and needs them only long enough to turn
them into a loss and a gradient. :func:`head_loss` gathers the hidden states of exactly the
labelled positions and, chunk by chunk, computes the logits, the loss and the gradient with
respect to the hidden states (and the head's weight, when it trains) in the forward pass — the
idea of Liger Kernel's fused linear cross-entropy. No logits survive a chunk, so memory does not
grow with the vocabulary times the batch, and the backward pass only scales what was computed.

The model still runs through its own ``forward`` (so data-parallel wrappers see the call as
usual): :func:`hidden_states_out` swaps the head for a pass-through while the forward runs, so
the "logits" it returns are the final hidden states.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

CHUNK = 1024  # positions per chunk: 1,024 × 49,152 float32 logits = 192 MiB at most


@lru_cache(maxsize=1)
def _make_function():
    import torch

    class _HeadLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, hidden, weight, targets, chunk):
            n = hidden.shape[0]
            grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
            grad_weight = torch.zeros_like(weight, dtype=torch.float32) \
                if ctx.needs_input_grad[1] else None
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, n, chunk):
                h = hidden[start:start + chunk]
                t = targets[start:start + chunk]
                logits = (h @ weight.t()).float()
                lse = torch.logsumexp(logits, dim=-1)
                rows = torch.arange(len(t), device=t.device)
                total += (lse - logits[rows, t]).sum()
                probs = logits.sub_(lse.unsqueeze(-1)).exp_()  # softmax, in place
                probs[rows, t] -= 1.0  # d(sum of losses) / d(logits)
                if grad_hidden is not None:
                    grad_hidden[start:start + chunk] = probs.to(weight.dtype) @ weight
                if grad_weight is not None:
                    grad_weight.addmm_(probs.t(), h.float())
            ctx.save_for_backward(grad_hidden, grad_weight)
            ctx.n, ctx.weight_dtype = max(n, 1), weight.dtype  # no labels: a loss of 0
            return total / ctx.n

        @staticmethod
        def backward(ctx, grad_loss):
            grad_hidden, grad_weight = ctx.saved_tensors
            scale = grad_loss / ctx.n
            grad_h = None if grad_hidden is None else grad_hidden * scale.to(grad_hidden.dtype)
            grad_w = None if grad_weight is None else (grad_weight * scale).to(ctx.weight_dtype)
            return grad_h, grad_w, None, None

    return _HeadLoss


def head_loss(hidden, weight, targets, chunk: int = CHUNK):
    """Mean cross-entropy of ``targets`` (N,) under logits ``hidden @ weight.T`` (N × V),
    never holding more than ``chunk`` rows of logits."""
    return _make_function().apply(hidden, weight, targets, chunk)


def causal_lm(model):
    """The transformers model inside data-parallel and peft wrappers."""
    while hasattr(model, "module"):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


def output_head(model):
    """The plain linear output head of ``model``, or ``None`` when the logits are more than
    ``hidden @ W.T`` (a bias, logit soft-capping or scaling, a custom head)."""
    import torch

    lm = causal_lm(model)
    head = lm.get_output_embeddings() if hasattr(lm, "get_output_embeddings") else None
    config = getattr(lm, "config", None)
    plain = (type(head) is torch.nn.Linear and head.bias is None
             and any(module is head for module in lm._modules.values())
             and not getattr(config, "final_logit_softcapping", None)
             and getattr(config, "logit_scale", None) in (None, 1, 1.0)
             and getattr(config, "logits_scaling", None) in (None, 1, 1.0))
    return head if plain else None


@contextmanager
def hidden_states_out(model, head):
    """While active, ``model(...)``'s logits are its final hidden states: the output ``head``
    (from :func:`output_head`) is swapped for an identity."""
    import torch

    lm = causal_lm(model)
    name = next(key for key, module in lm._modules.items() if module is head)
    lm._modules[name] = torch.nn.Identity()
    try:
        yield
    finally:
        lm._modules[name] = head
