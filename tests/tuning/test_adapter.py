import pytest

from graftlm.core.errors import ArtifactError
from graftlm.core.settings import Settings
from graftlm.core.workspace import Workspace, write_manifest
from graftlm.tuning import adapter


def _adapter(ws, name, **card):
    with ws.writer("adapters", name) as staging:
        write_manifest(staging, "adapter", {"name": name, **card})


def test_adapter_for_another_base_model_is_refused(tmp_path, monkeypatch):
    ws = Workspace(tmp_path)
    base = tmp_path / "other-base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(b"not the same weights")
    _adapter(ws, "a", type="lora", base_model={"sha256": "0" * 64, "path": "/trained/on"})
    monkeypatch.setattr(adapter, "load_base", lambda *a, **k: (None, None, base))
    with pytest.raises(ArtifactError, match=r"trained on a base model with hash 000000000000…"):
        adapter.open_adapter("a", Settings(home=tmp_path), ws)


def test_full_fine_tune_is_not_an_adapter(tmp_path, monkeypatch):
    ws = Workspace(tmp_path)
    _adapter(ws, "f", type="full", base_model={})
    monkeypatch.setattr(adapter, "load_base", lambda *a, **k: (None, None, tmp_path))
    with pytest.raises(ArtifactError, match="is a full fine-tune"):
        adapter.open_adapter("f", Settings(home=tmp_path), ws)


def test_eval_reads_examples_as_the_adapter_was_trained_unless_told_otherwise():
    from graftlm.core.errors import InputError
    from graftlm.tuning.data import FieldMap
    from graftlm.tuning.eval_adapter import reading

    card = {"data": {"fields": {"target": "label", "input": "text", "template": None,
                                "system": "Answer ON or OFF."}}}
    assert reading(card, {}) == FieldMap("label", "text", None, "Answer ON or OFF.")
    # One field given replaces that one; the system prompt stays.
    assert reading(card, {"input": "utterance", "target": None}) == FieldMap(
        "label", "utterance", None, "Answer ON or OFF.")
    templated = {"data": {"fields": {"target": "y", "input": None, "template": "{a} {b}",
                                     "system": None}}}
    assert reading(templated, {"input": "x"}) == FieldMap("y", "x")
    assert reading({"data": {"fields": None}}, {}) is None  # chat data: no mapping
    with pytest.raises(InputError, match="--input-field"):
        reading({"data": {"fields": None}}, {"target": "label"})
