"""Spectrum's selection: the score worked by hand on a known spectrum, and the ranking of a small
random model whose matrices were given signal of known strength."""

import math

import numpy as np
import pytest
import torch

from graftlm.tuning.spectrum import freeze_all_but, module_kind, score, select, snr


def with_singular_values(values, seed=0):
    rng = np.random.default_rng(seed)
    n = len(values)
    u, _ = np.linalg.qr(rng.normal(size=(n, n)))
    v, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return u @ np.diag(values) @ v.T


def test_the_score_of_a_known_spectrum():
    # Sorted: 0.5 1 1.5 2 2.5 3 4 12. Quartiles (linear): 1.375 and 3.25, so sigma =
    # 1.875 / 1.349 and, square (beta = 1), the edge is 2 sigma = 2.7798. Above it 12, 4, 3
    # (19); at or below 7.5. Score: 19 / 7.5 / 12.
    weight = with_singular_values([12, 4, 3, 2.5, 2, 1.5, 1, 0.5])
    assert snr(weight) == pytest.approx(19 / 7.5 / 12, rel=1e-9)
    # 1 1 1 1 2 3 4 5: quartiles 1 and 3.25, edge 2 * 2.25 / 1.349 = 3.3358; 9 above, 9 below.
    assert snr(with_singular_values([5, 4, 3, 2, 1, 1, 1, 1])) == pytest.approx(9 / 9 / 5)
    # Nothing at or below the edge (all equal: no spread, the edge is 0): infinite.
    assert math.isinf(snr(np.eye(6)))
    assert snr(np.zeros((4, 6))) == 0.0  # not infinitely good


def test_module_kinds():
    assert module_kind("model.layers.11.mlp.down_proj.weight") == "mlp.down_proj"
    assert module_kind("model.layers.0.self_attn.q_proj.weight") == "self_attn.q_proj"
    assert module_kind("model.embed_tokens.weight") is None
    assert module_kind("model.layers.0.input_layernorm.bias") is None


def test_a_small_model_ranked_as_worked_by_hand(tiny_tokenizer):
    from tests.conftest import make_tiny_model

    model = make_tiny_model(tiny_tokenizer)
    # Two 32x32 spectra. Even: 1, 2, ..., 32 — quartiles 8.75 and 24.25, sigma 15.5 / 1.349,
    # edge 22.98; 23..32 above (275), 1..22 below (253): 275 / 253 / 32 = 0.0340.
    # Spiked: 100, 90 and 1..30 — the same quartiles and edge; 23..30, 90, 100 above (402),
    # 1..22 below (253): 402 / 253 / 100 = 0.0159. Divided by their largest singular value,
    # two strong directions score below an even spread: the even matrix is chosen.
    even, spiked = list(range(1, 33)), [100, 90, *range(1, 31)]
    for name, values in (("model.layers.0.self_attn.q_proj.weight", even),
                         ("model.layers.1.self_attn.q_proj.weight", spiked),
                         ("model.layers.0.self_attn.o_proj.weight", spiked),
                         ("model.layers.1.self_attn.o_proj.weight", even)):
        with torch.no_grad():
            model.get_parameter(name).copy_(torch.from_numpy(with_singular_values(values)))
    scored = score(model)
    assert {s.kind for s in scored} == {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                       "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                       "mlp.down_proj"}
    by_name = {s.name: s.snr for s in scored}
    assert by_name["model.layers.0.self_attn.q_proj.weight"] == pytest.approx(275 / 253 / 32)
    assert by_name["model.layers.1.self_attn.q_proj.weight"] == pytest.approx(402 / 253 / 100)
    chosen = {s.name for s in select(scored, 0.5)}
    assert len(chosen) == 7  # one of the two layers per type
    assert {"model.layers.0.self_attn.q_proj.weight",
            "model.layers.1.self_attn.o_proj.weight"} <= chosen
    assert len(select(scored, 1.0)) == 14
    trainable = freeze_all_but(model, select(scored, 0.5))
    assert trainable == sum(p.numel() for n, p in model.named_parameters() if n in chosen)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == chosen
    with pytest.raises(ValueError, match="share"):
        select(scored, 0)
