import pytest

from graftlm.errors import ArtifactError, DataFormatError
from graftlm.settings import Settings
from graftlm.workspace import Workspace, write_manifest
from tuning import adapter
from tuning.data import DataReport, Problem


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


def test_problems_stop_a_run_before_it_starts(tmp_path):
    report = DataReport(tmp_path / "d.jsonl", "chat",
                        problems=[Problem(n, "malformed JSON") for n in range(1, 26)])
    with pytest.raises(DataFormatError) as err:
        adapter.require_clean(report)
    text = str(err.value)
    assert "25 problem(s)" in text and "line 20: malformed JSON" in text
    assert "line 21" not in text and "… and 5 more" in text
    adapter.require_clean(DataReport(tmp_path / "d.jsonl", "chat"))  # a clean report passes


def test_merge_refuses_a_non_empty_target(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(ArtifactError, match="not empty; pass --force"):
        adapter.merge_adapter("x", out, Settings(home=tmp_path), Workspace(tmp_path))
    assert (out / "keep.txt").read_text() == "precious"


def test_qlora_without_a_gpu_says_what_it_needs(tmp_path):
    from typer.testing import CliRunner

    from graftlm.cli import app
    from tests.conftest import save_tiny_base

    base = save_tiny_base(tmp_path / "tiny")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "play some jazz", "completion": "PlayMusic"}\n' * 4)
    result = CliRunner().invoke(app, ["train", str(data), "--name", "q", "--qlora"],
                                env={"GRAFT_MODELS__BASE": str(base)})
    assert result.exit_code == 1, result.output
    assert "CUDA GPU" in result.output and "Traceback" not in result.output
    both = CliRunner().invoke(app, ["train", str(data), "--name", "q", "--qlora", "--full"],
                              env={"GRAFT_MODELS__BASE": str(base)})
    assert both.exit_code == 2 and "exclude each other" in both.output
