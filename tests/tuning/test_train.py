import pytest

from graftlm.core.errors import TrainingError
from graftlm.core.settings import TuningSettings
from graftlm.tuning.data import IGNORE, Encoded, Example, encode
from graftlm.tuning.checkpoint import checkpoints
from graftlm.tuning.batching import batches, collate, split
from graftlm.tuning.events import Note, Step
from graftlm.tuning.train import train

PAIRS = [("play some jazz music", "PlayMusic"), ("book a table for two", "BookRestaurant"),
         ("weather in paris", "GetWeather"), ("rate this novel five stars", "RateBook")]


def examples(n=8):
    return [Example((("system", "classify the request"), ("user", p), ("assistant", a)), i)
            for i, (p, a) in enumerate(PAIRS * n)]


def lora(model, rank=8):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=rank, lora_alpha=16, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))


FAST = TuningSettings(batch_size=8, max_steps=60, eval_every=20, learning_rate=2e-2,
                      warmup_ratio=0.0, max_length=64, patience=5)


def test_split_is_stratified_and_reproducible():
    data = examples(10)
    train_a, held_a = split(data, 0.25, 100, seed=1)
    train_b, held_b = split(data, 0.25, 100, seed=1)
    assert [e.line for e in held_a] == [e.line for e in held_b]
    assert {e.target for e in held_a} == {a for _, a in PAIRS}
    assert len(train_a) + len(held_a) == len(data)
    assert not {e.line for e in train_a} & {e.line for e in held_a}


def test_length_grouped_batches_cover_everything_once():
    enc = [Encoded([1] * n, [1] * n, False) for n in (3, 9, 4, 8, 5, 7, 6, 2, 10, 1)]
    plan = batches(enc, 3, seed=0)
    flat = sorted(i for b in plan for i in b)
    assert flat == list(range(10)) and all(len(b) <= 3 for b in plan)
    spread = [max(len(enc[i].input_ids) for i in b) - min(len(enc[i].input_ids) for i in b)
              for b in plan]
    assert max(spread) <= 3  # neighbours in length share a batch


def test_collate_pads_and_masks():
    batch = collate([Encoded([5, 6, 7], [IGNORE, 6, 7], False), Encoded([8], [8], False)],
                    pad=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [8, IGNORE, IGNORE]]


def test_lora_training_lowers_the_eval_loss(tiny_model, tiny_tokenizer):
    data = examples(8)
    model = lora(tiny_model)
    result = train(model, tiny_tokenizer, data, data[:8], FAST)
    assert result.metric_name == "choice_accuracy" and 0.0 <= result.base_metric <= 1.0
    assert result.best.loss < result.base_loss
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 0 < trainable < sum(p.numel() for p in model.parameters()) / 2


def test_full_training_learns_the_task(tiny_model, tiny_tokenizer):
    data = examples(8)
    settings = FAST.model_copy(update={"full_learning_rate": 5e-3, "method": "full"})
    result = train(tiny_model, tiny_tokenizer, data, data[:8], settings)
    assert result.best.loss < result.base_loss / 2
    assert result.best.metric > result.base_metric


def test_nan_loss_stops_with_a_clear_error(tiny_model, tiny_tokenizer):
    def poison(module, args, kwargs, output):
        if module.training:  # the training passes, not the evaluations
            output.logits = output.logits * float("nan")
        return output

    tiny_model.register_forward_hook(poison, with_kwargs=True)
    with pytest.raises(TrainingError, match="diverged. Lower the learning rate"):
        train(lora(tiny_model), tiny_tokenizer, examples(2), examples(1)[:2],
              FAST.model_copy(update={"eval_every": 1000}))


def test_interrupted_run_resumes_from_its_checkpoint(tiny_model, tiny_tokenizer, tmp_path):
    import copy

    data = examples(4)
    settings = FAST.model_copy(update={"max_steps": 20, "eval_every": 5})
    fresh = copy.deepcopy(tiny_model)

    def interrupt(event):
        if isinstance(event, Step) and event.step == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(lora(tiny_model), tiny_tokenizer, data, data[:4], settings,
              checkpoint=tmp_path / "run", progress=interrupt)
    assert [p.name for p in checkpoints(tmp_path / "run")] == ["step-0000010", "step-0000005"]
    steps = []
    result = train(lora(fresh), tiny_tokenizer, data, data[:4], settings,
                   checkpoint=tmp_path / "run", resume=True,
                   progress=lambda e: steps.append(e.step))
    assert steps[0] == 11 and result.steps == 20
    assert [p.step for p in result.history] == [5, 10, 15, 20]


def test_the_labelled_positions_loss_equals_the_models_own(tiny_model):
    import torch

    from graftlm.tuning.data import IGNORE
    from graftlm.tuning.loss import labelled_loss

    ids = torch.randint(0, tiny_model.config.vocab_size, (3, 12), generator=torch.Generator()
                        .manual_seed(0))
    mask = torch.ones_like(ids)
    mask[2, 9:] = 0
    labels = torch.full_like(ids, IGNORE)
    labels[0, 8:], labels[1, 5:7], labels[2, 7:9] = ids[0, 8:], ids[1, 5:7], ids[2, 7:9]
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    with torch.inference_mode():
        assert float(labelled_loss(tiny_model, batch)) == pytest.approx(
            float(tiny_model(**batch).loss), rel=1e-5)


def test_a_deadline_re_plans_the_warmup_with_the_steps():
    """Cut from 220 planned steps to 10 after three, the run decays to zero instead of spending
    all ten steps in a warmup sized for 220."""
    from graftlm.tuning.train import Schedule

    schedule = Schedule(220, 0.05)
    assert schedule.warmup == 11 and schedule(0) == pytest.approx(1 / 11)
    schedule.plan(10)
    factors = [schedule(step) for step in range(3, 10)]
    assert factors[0] == pytest.approx(7 / 9) and factors[-1] == pytest.approx(1 / 9)
    assert factors == sorted(factors, reverse=True) and schedule(10) == 0.0
    full = Schedule(100, 0.1)
    assert [full(s) for s in (0, 9, 10, 99)] == pytest.approx([0.1, 1.0, 1.0, 1 / 90])


def test_training_with_packing_runs_on_rows_of_several_examples(tiny_model, tiny_tokenizer):
    data = examples(8)
    settings = FAST.model_copy(update={"packing": True, "max_steps": 2, "batch_size": 1})
    result = train(lora(tiny_model), tiny_tokenizer, data, data[:4], settings)
    assert result.steps == 2
    lengths = [len(encode(ex, tiny_tokenizer, settings.max_length).input_ids) for ex in data]
    assert result.train_tokens / result.steps > max(lengths)  # rows held several examples


def _interrupted_run(model, tokenizer, data, settings, run, at=12):
    def interrupt(event):
        if isinstance(event, Step) and event.step == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(model, tokenizer, data, data[:4], settings, checkpoint=run, progress=interrupt)


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tiny_model,
                                                                      tiny_tokenizer, tmp_path):
    """The checkpoint carries the random streams (torch's, and the LoRA dropout masks'), so
    resuming changes nothing: the same final weights, to float tolerance."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    def dropped(model):
        torch.manual_seed(0)
        return get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.2,
                                                target_modules="all-linear",
                                                task_type="CAUSAL_LM"))

    data = examples(4)
    settings = FAST.model_copy(update={"max_steps": 20, "eval_every": 5, "patience": 10})
    fresh, again = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    whole = train(dropped(tiny_model), tiny_tokenizer, data, data[:4], settings).model
    _interrupted_run(dropped(fresh), tiny_tokenizer, data, settings, tmp_path / "run")
    resumed = train(dropped(again), tiny_tokenizer, data, data[:4], settings,
                    checkpoint=tmp_path / "run", resume=True).model
    ours = {k: v for k, v in resumed.named_parameters() if v.requires_grad}
    for name, value in whole.named_parameters():
        if value.requires_grad:
            assert torch.allclose(ours[name], value, atol=1e-6), name


def test_a_torn_checkpoint_is_reported_and_the_one_before_it_resumed(tiny_model,
                                                                     tiny_tokenizer, tmp_path):
    import copy

    data = examples(4)
    settings = FAST.model_copy(update={"max_steps": 20, "eval_every": 5})
    fresh = copy.deepcopy(tiny_model)
    _interrupted_run(lora(tiny_model), tiny_tokenizer, data, settings, tmp_path / "run")
    newest = checkpoints(tmp_path / "run")[0] / "state.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # a write cut short
    events = []
    train(lora(fresh), tiny_tokenizer, data, data[:4], settings, checkpoint=tmp_path / "run",
          resume=True, progress=events.append)
    notes = [e.text for e in events if isinstance(e, Note)]
    assert len(notes) == 1 and "step-0000010" in notes[0] and "one before" in notes[0]
    assert next(e.step for e in events if isinstance(e, Step)) == 6  # from step 5's checkpoint


@pytest.mark.parametrize("change, named", [
    ({"data": 1}, "training data changed"),
    ({"learning_rate": 1e-3}, "learning_rate 0.02 → 0.001"),
])
def test_resuming_with_other_data_or_hyperparameters_is_refused(tiny_model, tiny_tokenizer,
                                                                tmp_path, change, named):
    import copy

    data = examples(4)
    settings = FAST.model_copy(update={"max_steps": 20, "eval_every": 5})
    fresh = copy.deepcopy(tiny_model)
    _interrupted_run(lora(tiny_model), tiny_tokenizer, data, settings, tmp_path / "run")
    if "data" in change:
        data = data[:-1]
    else:
        settings = settings.model_copy(update=change)
    with pytest.raises(TrainingError, match=named):
        train(lora(fresh), tiny_tokenizer, data, data[:4], settings,
              checkpoint=tmp_path / "run", resume=True)
