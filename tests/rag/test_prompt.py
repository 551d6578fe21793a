"""Retrieval prompts: sources fitted to a budget in rank order, and joined to the messages."""

from rag.prompt import INSTRUCTION, fit, with_sources


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
