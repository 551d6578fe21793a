import json
import re

import pytest

from graftlm.errors import DocumentLoadError
from rag.loaders import discover, html_to_markdown, load


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
