from pathlib import Path

import pytest

from graftlm.core.errors import ConfigError
from graftlm.core.settings import load_settings


def test_defaults_and_their_source(isolated_env):
    loaded = load_settings()
    assert loaded.settings.models.base == "embedded"
    assert loaded.settings.advisor.semantic is True
    assert loaded.sources["models.base"] == "default"
    assert loaded.sources["home"] == "env GRAFT_HOME"
    assert loaded.config_file is None


def test_layers_file_then_env_then_flags(isolated_env, monkeypatch):
    Path("graft.toml").write_text('[advisor]\nsemantic_threshold = 0.4\ntrain_tflops = 2.0\n'
                                  '[models]\ndtype = "float32"\n')
    monkeypatch.setenv("GRAFT_ADVISOR__TRAIN_TFLOPS", "3.5")
    loaded = load_settings(overrides={"advisor.semantic": False, "models.dtype": None})
    s = loaded.settings
    assert s.advisor.semantic_threshold == 0.4
    assert s.advisor.train_tflops == 3.5
    assert s.advisor.semantic is False
    assert s.models.dtype == "float32"  # a None override does not count
    assert loaded.sources["advisor.semantic_threshold"].startswith("file ")
    assert loaded.sources["advisor.train_tflops"] == "env GRAFT_ADVISOR__TRAIN_TFLOPS"
    assert loaded.sources["advisor.semantic"] == "flag --semantic"


def test_unknown_key_in_file_is_named(isolated_env):
    Path("graft.toml").write_text("[advisor]\nsemantik = true\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'advisor.semantik'.*graft.toml"):
        load_settings()


def test_invalid_value_names_its_source(isolated_env, monkeypatch):
    monkeypatch.setenv("GRAFT_ADVISOR__SEMANTIC_THRESHOLD", "3")
    with pytest.raises(ConfigError, match="GRAFT_ADVISOR__SEMANTIC_THRESHOLD") as err:
        load_settings()
    assert "less than or equal to 1" in str(err.value)


def test_broken_toml_and_missing_file(isolated_env):
    Path("bad.toml").write_text("[advisor\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_settings(Path("bad.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(Path("missing.toml"))


def test_graft_config_env_names_the_file(isolated_env, monkeypatch):
    Path("other.toml").write_text('[models]\nembedder = "/somewhere"\n')
    monkeypatch.setenv("GRAFT_CONFIG", "other.toml")
    loaded = load_settings()
    assert loaded.settings.models.embedder == "/somewhere"
    assert loaded.config_file == Path("other.toml")
