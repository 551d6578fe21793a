"""The runtime: what it checks when built, how model names resolve, what it hands the engine."""

import pytest


def test_runtime_refuses_an_adapter_for_another_base_model(stack):
    from graftlm.core.errors import ArtifactError
    from graftlm.serving.runtime import Runtime
    from tests.serving.conftest import make_adapter

    settings, workspace = stack
    make_adapter(settings.models.base, workspace, "alien", base_sha256="0" * 64)
    with pytest.raises(ArtifactError, match="trained on a base model with hash 000000000000"):
        Runtime(settings, workspace, adapters=["alien"], engine="local")


def test_runtime_refuses_an_index_built_with_another_embedder(stack):
    from graftlm.core.errors import ConfigError
    from graftlm.serving.runtime import Runtime

    class OtherEmbedder:
        name, dim = "other", 256

    settings, workspace = stack
    with pytest.raises(ConfigError, match="built with the embedder 'fake-words'"):
        Runtime(settings, workspace, indexes=["handbook"], engine="local",
                embedder=OtherEmbedder())


def test_runtime_resolves_model_names(stack):
    from graftlm.serving.runtime import Route, Runtime
    from tests.conftest import WordEmbedder

    settings, workspace = stack
    runtime = Runtime(settings, workspace, adapters=["terse"], indexes=["handbook"],
                      engine="local", embedder=WordEmbedder())
    assert runtime.resolve("terse+handbook") == Route("terse+handbook", "terse", "handbook")
    assert runtime.resolve("base") == Route("base", None, None)
    assert runtime.resolve("terse+nope") is None and runtime.resolve("nope") is None


def test_runtime_passes_the_report_to_the_vllm_engine(stack):
    from graftlm.serving.runtime import Runtime

    settings, workspace = stack
    lines = []
    runtime = Runtime(settings, workspace, engine="vllm", report=lines.append)
    runtime.engine.report("vLLM log: here")
    assert lines == ["vLLM log: here"]
    quiet = Runtime(settings, workspace, engine="vllm").engine
    quiet.report("nobody hears this")  # the default: the engine says nothing, and no error


def test_a_retrieval_aware_adapter_away_from_its_index_is_warned_about(stack):
    from graftlm.core.lineage import version_of
    from graftlm.serving.runtime import Route, Runtime
    from tests.conftest import WordEmbedder
    from tests.serving.conftest import make_adapter

    settings, workspace = stack
    trained = version_of(workspace.get("indexes", "handbook"))
    make_adapter(settings.models.base, workspace, "reader", index=trained)
    alone = Runtime(settings, workspace, adapters=["reader"], engine="local")
    assert "which is not served; pass --index handbook" in alone.warnings()[0]
    served = Runtime(settings, workspace, adapters=["reader"], indexes=["handbook"],
                     engine="local", embedder=WordEmbedder())
    assert served.warnings() == []
    assert served.warnings(Route("reader+handbook", "reader", "handbook")) == []
    bare = served.lineage(Route("reader", "reader", None))
    assert "answers without sources; ask for 'reader+handbook'" in bare["warnings"][0]
    make_adapter(settings.models.base, workspace, "stale",
                 index={**trained, "sha256": "0" * 12, "created": "then"})
    stale = Runtime(settings, workspace, adapters=["stale"], indexes=["handbook"],
                    engine="local", embedder=WordEmbedder())
    assert "was rebuilt since adapter 'stale'" in stale.warnings(
        Route("stale+handbook", "stale", "handbook"))[0]
    assert "warnings" not in served.lineage(Route("base", None, None))


def test_on_a_cpu_the_first_adapter_is_served_from_a_merged_copy_made_once(stack, monkeypatch):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from graftlm.serving.engines import vllm
    from graftlm.serving.runtime import Runtime

    monkeypatch.setattr(vllm, "on_gpu", lambda: False)
    settings, workspace = stack
    lines = []
    engine = Runtime(settings, workspace, adapters=["terse"], engine="vllm",
                     report=lines.append).engine
    copy = engine.merged["terse"].model_path
    assert engine.initial == {} and "merging it into a copy" in lines[0]
    again = Runtime(settings, workspace, adapters=["terse"], engine="vllm",
                    report=lines.append).engine
    assert again.merged["terse"].model_path == copy and len(lines) == 1  # made once
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(settings.models.base),
                                      workspace.get("adapters", "terse").path)
    merged = AutoModelForCausalLM.from_pretrained(copy)
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-4)
    on_lora = Runtime(settings.model_copy(update={"serving": settings.serving.model_copy(
        update={"vllm": settings.serving.vllm.model_copy(update={"merged_adapters": 0})})}),
        workspace, adapters=["terse"], engine="vllm").engine
    assert on_lora.merged == {} and set(on_lora.initial) == {"terse"}
