"""Pieces of the gateway without a server: stop sequences, the source budget, name resolution."""

import pytest

from rag.prompt import INSTRUCTION, fit, with_sources
from serving.engines.stops import StopScanner


def feed_all(scanner, text, step=1):
    out, stopped = "", False
    for end in range(step, len(text) + step, step):
        piece, stopped = scanner.feed(text[:end], final=end >= len(text))
        out += piece
        if stopped:
            break
    return out, stopped


@pytest.mark.parametrize("text, stops, expected, stopped", [
    ("hello world. bye", ["."], "hello world", True),
    ("hello world", ["xyz"], "hello world", False),
    ("abc END def", ["END", "c E"], "ab", True),
    ("no stops at all", [], "no stops at all", False),
    ("ends with EN", ["END"], "ends with EN", False),
])
def test_stop_scanner_emits_exactly_the_text_before_a_stop(text, stops, expected, stopped):
    assert feed_all(StopScanner(stops), text) == (expected, stopped)
    assert feed_all(StopScanner(stops), text, step=3) == (expected, stopped)


def test_stop_scanner_holds_back_a_possible_stop_prefix():
    scanner = StopScanner(["STOP"])
    assert scanner.feed("go ST") == ("go", False)
    assert scanner.feed("go STOP") == (" ", True)


def test_stop_scanner_waits_for_the_rest_of_a_character():
    scanner = StopScanner([])
    assert scanner.feed("caf\ufffd") == ("caf", False)
    assert scanner.feed("café") == ("é", False)


class _Chunk:
    def __init__(self, i, words):
        self.id, self.source, self.text = f"c{i}", f"doc{i}.md", " ".join(["w"] * words)

    def location(self):
        return "lines 1-2"


class _Result:
    def __init__(self, i, words):
        self.chunk, self.score = _Chunk(i, words), 1.0 / (i + 1)


def words(text):
    return len(text.split())


def test_fit_keeps_whole_sources_in_rank_order_within_the_budget():
    results = [_Result(0, 10), _Result(1, 50), _Result(2, 5)]
    budget = words(INSTRUCTION) + 30
    block, citations = fit(results, words, budget)
    assert [c["chunk_id"] for c in citations] == ["c0", "c2"]  # c1 does not fit, c2 does
    assert [c["index"] for c in citations] == [1, 2]
    assert "[1] doc0.md (lines 1-2)" in block and "[2] doc2.md" in block
    assert fit(results, words, 3) == ("", [])


def test_sources_join_the_clients_system_message():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q"}]
    joined = with_sources(messages, "SOURCES")
    assert joined[0]["content"] == "Be brief.\n\nSOURCES" and joined[1:] == messages[1:]
    assert with_sources(messages[1:], "SOURCES")[0] == {"role": "system", "content": "SOURCES"}
    assert with_sources(messages, "") is messages


def test_runtime_refuses_an_adapter_for_another_base_model(stack):
    from graftlm.errors import ArtifactError
    from serving.runtime import Runtime
    from tests.serving.conftest import make_adapter

    settings, workspace = stack
    make_adapter(settings.models.base, workspace, "alien", base_sha256="0" * 64)
    with pytest.raises(ArtifactError, match="trained on a base model with hash 000000000000"):
        Runtime(settings, workspace, adapters=["alien"], engine="local")


def test_runtime_refuses_an_index_built_with_another_embedder(stack):
    from graftlm.errors import ConfigError
    from serving.runtime import Runtime

    class OtherEmbedder:
        name, dim = "other", 256

    settings, workspace = stack
    with pytest.raises(ConfigError, match="built with the embedder 'fake-words'"):
        Runtime(settings, workspace, indexes=["handbook"], engine="local",
                embedder=OtherEmbedder())


def test_runtime_resolves_model_names(stack):
    from serving.runtime import Route, Runtime
    from tests.conftest import WordEmbedder

    settings, workspace = stack
    runtime = Runtime(settings, workspace, adapters=["terse"], indexes=["handbook"],
                      engine="local", embedder=WordEmbedder())
    assert runtime.resolve("terse+handbook") == Route("terse+handbook", "terse", "handbook")
    assert runtime.resolve("base") == Route("base", None, None)
    assert runtime.resolve("terse+nope") is None and runtime.resolve("nope") is None


def test_runtime_passes_the_report_to_the_vllm_engine(stack):
    from serving.runtime import Runtime

    settings, workspace = stack
    lines = []
    runtime = Runtime(settings, workspace, engine="vllm", report=lines.append)
    runtime.engine.report("vLLM log: here")
    assert lines == ["vLLM log: here"]
    quiet = Runtime(settings, workspace, engine="vllm").engine
    quiet.report("nobody hears this")  # the default: the engine says nothing, and no error
