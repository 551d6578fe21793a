from graftlm.rag.chunking import Chunk, chunk_source, make_splitter, sections
from graftlm.rag.loaders import SourceText


def words(text):
    return len(text.split())


def test_sections_track_heading_paths():
    text = "intro\n# A\nbody a\n## B\nbody b\n# C\nbody c\n"
    got = [(s.heading, s.text.strip()) for s in sections(text)]
    assert got == [("", "intro"), ("A", "body a"), ("A > B", "body b"), ("C", "body c")]
    for s in sections(text):
        assert text[s.start:s.start + len(s.text)] == s.text


def test_chunks_respect_size_sections_and_lines():
    body = "\n\n".join(f"Paragraph {i} " + "word " * 12 for i in range(6))
    text = f"# Guide\n\n{body}\n\n# Other\n\nshort tail"
    src = SourceText("g.md", text, "markdown", "g.md", line=1)
    chunks = chunk_source(src, make_splitter(30, 5, words))
    assert all(words(c.text) <= 30 for c in chunks)
    assert {c.heading for c in chunks} == {"Guide", "Other"}
    lines = text.splitlines()
    for c in chunks:
        first, last = c.lines
        assert c.text.splitlines()[0] in lines[first - 1]
        assert c.text.splitlines()[-1] in lines[last - 1]
    assert chunks[-1].text == "short tail" and chunks[-1].location() == "line 17, § Other"


def test_ids_are_stable_and_distinct():
    src = SourceText("a.txt", "one two three. " * 40, "text", "a.txt", line=1)
    splitter = make_splitter(20, 0, words)
    first, second = chunk_source(src, splitter), chunk_source(src, splitter)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)


def test_round_trip_and_embedding_text():
    chunk = Chunk("id1", "text", "s.md", "s.md", "markdown", "A > B", None, (3, 4))
    assert Chunk.from_dict(chunk.to_dict()) == chunk
    assert chunk.embedding_text() == "A > B\ntext"
    assert Chunk("i", "t", "p.pdf", "p.pdf", "pdf", page=2).location() == "page 2"
