import json
import re

import pytest

from graftlm.core.errors import DocumentLoadError
from graftlm.rag.loaders import discover, html_to_markdown, load


def _load(path, root, **kw):
    return load(path, root, max_bytes=kw.pop("max_bytes", 10_000_000), **kw)


def test_discover_is_recursive_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.md").write_text("z")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == ["a.txt", "b/z.md"]
    with pytest.raises(DocumentLoadError, match="is not a folder"):
        discover(tmp_path / "a.txt")


def test_text_and_markdown(tmp_path):
    (tmp_path / "n.md").write_text("# Title\n\nBody text.")
    (src,) = _load(tmp_path / "n.md", tmp_path)
    assert (src.kind, src.source, src.line, src.doc_id) == ("markdown", "n.md", 1, "n.md")


def test_html_keeps_headings_and_drops_scripts():
    md = html_to_markdown("<html><head><title>T</title><style>x{}</style></head><body>"
                          "<h1>Guide</h1><p>First &amp; foremost.</p><script>evil()</script>"
                          "<h2>Part</h2><ul><li>one</li><li>two</li></ul></body></html>")
    lines = [line for line in md.splitlines() if line]
    assert lines == ["# Guide", "First & foremost.", "## Part", "one", "two"]
    assert "evil" not in md and "x{}" not in md


def test_jsonl_records_with_fields(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"_id": "d1", "body": "alpha"}) + "\n\n"
                    + json.dumps({"_id": "d2", "body": "beta"}) + "\n")
    records = _load(path, tmp_path, text_field="body", id_field="_id")
    assert [(r.doc_id, r.text, r.line) for r in records] == [("d1", "alpha", 1), ("d2", "beta", 3)]
    with pytest.raises(DocumentLoadError, match=r"line 1 has no string field 'text'"):
        _load(path, tmp_path)


def test_pdf_pages(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = pypdf.PdfWriter()
    for text in ("Page one words", "Page two words"):
        page = writer.add_blank_page(width=300, height=200)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
        font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                 NameObject("/Subtype"): NameObject("/Type1"),
                                 NameObject("/BaseFont"): NameObject("/Helvetica")})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
            {NameObject("/F1"): writer._add_object(font)})})
        page[NameObject("/Contents")] = writer._add_object(stream)
    with (tmp_path / "doc.pdf").open("wb") as fh:
        writer.write(fh)
    pages = _load(tmp_path / "doc.pdf", tmp_path)
    assert [(p.page, p.text.strip()) for p in pages] == [(1, "Page one words"),
                                                          (2, "Page two words")]


@pytest.mark.parametrize("name, content, message", [
    ("bin.txt", b"abc\x00\x01def", "looks binary"),
    ("latin.txt", "café\nno".encode("latin-1"), "not UTF-8 (invalid byte 0xe9 on line 1)"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
    ("image.png", b"\x89PNG", "unsupported file type '.png'"),
    ("bad.jsonl", b'{"text": "ok"}\n{oops\n', "line 2: malformed JSON"),
])
def test_bad_files_name_the_file_and_the_reason(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DocumentLoadError, match=re.escape(message)) as err:
        _load(tmp_path / name, tmp_path)
    assert str(err.value).startswith(name)


def test_large_file_is_refused_before_reading(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * 2000)
    with pytest.raises(DocumentLoadError, match=r"over the 0.001 MB limit \(setting "
                                                 r"rag.max_file_mb\)"):
        _load(tmp_path / "big.txt", tmp_path, max_bytes=1000)


def test_one_malformed_html_file_is_skipped_not_the_end_of_the_build(tmp_path):
    from graftlm.rag.index import read_file
    from graftlm.core.rag_settings import RagSettings

    (tmp_path / "bad.html").write_text("<p>x</p><![foo[ y ]]>")
    with pytest.raises(DocumentLoadError, match="HTML the parser cannot read"):
        load(tmp_path / "bad.html", tmp_path, max_bytes=10**6)
    reason = read_file(tmp_path / "bad.html", tmp_path, "bad.html", RagSettings(), None, False)
    assert isinstance(reason, str) and "cannot read" in reason


def test_any_reader_failure_is_a_skipped_file_and_strict_keeps_it_fatal(tmp_path, monkeypatch):
    from graftlm.rag import index
    from graftlm.core.rag_settings import RagSettings

    def broken(*args, **kwargs):
        raise RuntimeError("the parser fell over")

    monkeypatch.setattr(index, "load", broken)
    (tmp_path / "a.md").write_text("# a")
    reason = index.read_file(tmp_path / "a.md", tmp_path, "a.md", RagSettings(), None, False)
    assert reason == "could not be read (RuntimeError: the parser fell over)"
    with pytest.raises(DocumentLoadError, match="the parser fell over"):
        index.read_file(tmp_path / "a.md", tmp_path, "a.md", RagSettings(), None, True)


def test_a_link_out_of_the_folder_is_skipped(tmp_path):
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = hunter2")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").symlink_to(secret)
    (docs / "inside.txt").write_text("fine")
    (docs / "alias.txt").symlink_to(docs / "inside.txt")  # a link inside the folder is fine
    with pytest.raises(DocumentLoadError, match="outside the folder"):
        load(docs / "notes.txt", docs, max_bytes=10**6)
    assert load(docs / "alias.txt", docs, max_bytes=10**6)[0].text == "fine"


def test_jsonl_lines_end_at_newlines_only(tmp_path):
    from graftlm.core import jsonl

    text = '{"text": "a\u2028b\u2029c\u0085d"}\r\n{"text": "e"}\n'
    assert [r["text"] for _, r, _ in jsonl.records(text)] == ["a\u2028b\u2029c\u0085d", "e"]
    (tmp_path / "d.jsonl").write_text(text, encoding="utf-8")
    assert len(load(tmp_path / "d.jsonl", tmp_path, max_bytes=10**6)) == 2


def test_pdf_page_cap_and_parser_errors_are_skips(tmp_path, monkeypatch):
    from graftlm.rag import loaders

    pypdf = pytest.importorskip("pypdf")
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.4 not really")

    class Limit:
        def __init__(self, *a, **k):
            raise pypdf.errors.LimitReachedError("too many objects")

    monkeypatch.setattr(pypdf, "PdfReader", Limit)
    with pytest.raises(DocumentLoadError, match="LimitReachedError"):
        loaders.load(tmp_path / "x.pdf", tmp_path, max_bytes=10**6)

    class Many:
        def __init__(self, *a, **k):
            self.pages = [object()] * 12

    monkeypatch.setattr(pypdf, "PdfReader", Many)
    with pytest.raises(DocumentLoadError, match="12 pages, over the 10 limit"):
        loaders.load(tmp_path / "x.pdf", tmp_path, max_bytes=10**6, max_pages=10)
