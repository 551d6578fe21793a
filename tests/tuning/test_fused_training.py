"""The fused training paths compute the same loss and gradients as the plain ones."""

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")


def _tiny_lora(dropout: float = 0.0):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(
        r=4, lora_alpha=8, lora_dropout=dropout, target_modules="all-linear"))
    for name, param in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero, which would hide A's gradient
            torch.nn.init.normal_(param, std=0.1)
    return model.train()


def _batch():
    from graftlm.tuning.data import IGNORE

    ids = torch.randint(0, 97, (3, 11), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[2, 8:] = 0
    labels = torch.full_like(ids, IGNORE)
    labels[0, 7:], labels[1, 3:6], labels[2, 5:8] = ids[0, 7:], ids[1, 3:6], ids[2, 5:8]
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _grads(model, loss):
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_head_loss_matches_cross_entropy_and_its_gradients_in_chunks():
    from graftlm.tuning.head_loss import head_loss

    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(10, 8, generator=gen, requires_grad=True)
    weight = torch.randn(50, 8, generator=gen, requires_grad=True)
    targets = torch.randint(0, 50, (10,), generator=gen)
    ours = head_loss(hidden, weight, targets, chunk=3)  # 3 + 3 + 3 + 1 rows
    ours.backward()
    got = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    reference = torch.nn.functional.cross_entropy(hidden @ weight.t(), targets)
    reference.backward()
    assert ours.item() == pytest.approx(reference.item(), rel=1e-6)
    assert torch.allclose(got[0], hidden.grad, atol=1e-6)
    assert torch.allclose(got[1], weight.grad, atol=1e-6)


def test_labelled_loss_trains_exactly_like_the_models_own_loss():
    """Through the pass-through head and the fused LoRA layers, the loss and every adapter
    gradient equal those of peft's modules and the model's ``labels=`` loss."""
    from graftlm.tuning.fast_lora import install
    from graftlm.tuning.loss import labelled_loss

    batch = _batch()
    plain = _tiny_lora()
    expected = _grads(plain, plain(**batch).loss)
    fused = _tiny_lora()
    uninstall = install(fused)
    loss = labelled_loss(fused, batch)
    assert loss.item() == pytest.approx(plain(**batch).loss.item(), rel=1e-5)
    got = _grads(fused, loss)
    assert got.keys() == expected.keys()
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-6), name
    uninstall()
    assert all("forward" not in vars(m) for m in fused.modules())
    assert type(fused.get_base_model().lm_head) is torch.nn.Linear  # the head is back


def test_fused_lora_drops_about_p_of_the_inputs_and_only_while_training():
    from graftlm.tuning.fast_lora import _keep_mask, install

    keep = _keep_mask((400, 500), 0.1, __import__("numpy").random.default_rng(0),
                      torch.device("cpu"))
    assert keep.dtype == torch.bool and abs(float(keep.float().mean()) - 0.9) < 0.005
    model = _tiny_lora(dropout=0.5)
    install(model, seed=3)
    ids = _batch()["input_ids"]
    first, second = model(input_ids=ids).logits, model(input_ids=ids).logits
    assert not torch.allclose(first, second)  # new masks every call
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits)


def test_disabled_adapters_fall_back_to_the_base_model():
    from graftlm.tuning.fast_lora import install

    model = _tiny_lora()
    ids = _batch()["input_ids"]
    with model.disable_adapter():
        base = model(input_ids=ids).logits
    install(model)
    with model.disable_adapter():
        assert torch.equal(model(input_ids=ids).logits, base)
    assert not torch.allclose(model(input_ids=ids).logits, base)


def test_a_batch_without_labels_has_a_loss_of_zero_not_nan():
    from graftlm.tuning.data import IGNORE
    from graftlm.tuning.loss import labelled_loss

    batch = _batch()
    batch["labels"] = torch.full_like(batch["labels"], IGNORE)
    model = _tiny_lora()
    loss = labelled_loss(model, batch)
    assert loss.item() == 0.0
    loss.backward()  # and nothing to learn from it
    assert all(float(p.grad.abs().sum()) == 0 for p in model.parameters() if p.grad is not None)


def test_a_packed_row_gives_each_example_the_loss_it_has_alone():
    """Three examples packed into two rows: every labelled token's log-probability equals the
    one the example gets in a batch of its own, so attention did not cross examples and
    positions restarted; the packed loss equals the unpacked one."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from graftlm.tuning.data import IGNORE, Encoded
    from graftlm.tuning.packing import pack
    from graftlm.tuning.batching import collate
    from graftlm.tuning.loss import labelled_loss

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2)).eval()
    gen = torch.Generator().manual_seed(2)
    examples = []
    for n, answer in ((9, 3), (6, 2), (4, 2)):
        ids = torch.randint(3, 97, (n,), generator=gen).tolist()
        examples.append(Encoded(ids, [IGNORE] * (n - answer) + ids[n - answer:], False))
    rows = pack(examples, width=12)
    assert sorted(len(r.input_ids) for r in rows) == [9, 10]  # 9 alone; 6 + 4 together
    assert sorted(rows, key=lambda r: len(r.input_ids))[1].positions == [*range(6), *range(4)]

    def token_logprobs(batch):
        with torch.no_grad():
            inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask",
                                                                "position_ids")}
            logp = model(**inputs, use_cache=False).logits.log_softmax(-1)[:, :-1]
        targets = batch["labels"][:, 1:]
        keep = targets != IGNORE
        return sorted(logp[keep].gather(-1, targets[keep].unsqueeze(-1)).squeeze(-1).tolist())

    packed = collate(rows, pad=0)
    assert "attention_mask" not in packed and int(packed["tokens"]) == 19
    alone = [token_logprobs(collate([e], pad=0)) for e in examples]
    assert token_logprobs(packed) == pytest.approx(sorted(x for a in alone for x in a),
                                                   abs=1e-5)
    with torch.no_grad():
        assert labelled_loss(model, packed).item() == pytest.approx(
            labelled_loss(model, collate(examples, pad=0)).item(), abs=1e-5)
