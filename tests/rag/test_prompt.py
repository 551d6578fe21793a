"""The one retrieval prompt: sources fitted to a budget in rank order, placed as the settings say,
and searched with filters and exclusions."""

from graftlm.core.settings import PromptSettings, RagSettings
from graftlm.core.workspace import Workspace
from graftlm.rag.index import load_index
from graftlm.rag.prompt import augment, fit, with_sources
from tests.rag.conftest import build

INSTRUCTION = "Use these."


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
    block, citations = fit(results, words, budget, INSTRUCTION)
    assert [c["chunk_id"] for c in citations] == ["c0", "c2"]  # c1 does not fit, c2 does
    assert [c["index"] for c in citations] == [1, 2]
    assert "[1] doc0.md (lines 1-2)" in block and "[2] doc2.md" in block
    assert fit(results, words, 3, INSTRUCTION) == ("", [])


def test_sources_go_before_the_question_by_default():
    settings = PromptSettings(instruction=INSTRUCTION)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q?"}]
    joined = with_sources(messages, "[1] a.md\nA.", settings)
    assert joined[0] == messages[0]
    assert joined[1] == {"role": "user",
                         "content": "Use these.\n\nSources:\n[1] a.md\nA.\n\nQuestion: q?"}
    assert messages[1]["content"] == "q?"  # the caller's messages are not changed


def test_sources_can_join_the_clients_system_message():
    settings = PromptSettings(placement="system", instruction=INSTRUCTION)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q"}]
    joined = with_sources(messages, "SOURCES", settings)
    assert joined[0]["content"] == "Be brief.\n\nUse these.\n\nSources:\nSOURCES"
    assert joined[1:] == messages[1:]
    assert with_sources(messages[1:], "SOURCES", settings)[0] == {
        "role": "system", "content": "Use these.\n\nSources:\nSOURCES"}
    assert with_sources(messages, "", settings) == messages


def test_augment_searches_the_last_question_and_can_exclude_a_document(docs, tmp_path,
                                                                         word_embedder):
    ws = Workspace(tmp_path / "home")
    build(docs, ws, word_embedder)
    index = load_index("kb", workspace=ws, embedder=word_embedder)
    settings = RagSettings(prompt={"k": 2, "instruction": INSTRUCTION})
    asked = [{"role": "user", "content": "how long does the warranty last"}]
    plain = augment(asked, index, settings, words)
    assert plain.citations[0]["source"] == "sub/warranty.txt"
    assert "warranty lasts two years" in plain.messages[-1]["content"]
    without = augment(asked, index, settings, words, exclude=["sub/warranty.txt"])
    assert without.citations and all(c["source"] != "sub/warranty.txt"
                                     for c in without.citations)
    tight = augment(asked, index, settings, words, room=words(INSTRUCTION))
    assert tight.citations == [] and tight.messages == asked  # nothing fits: no sources
