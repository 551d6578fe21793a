"""Reading documents: plain text, Markdown, HTML, PDF (text layer) and JSONL records.

A loader turns one file into :class:`SourceText` pieces (a PDF gives one per page, a JSONL file
one per record) or raises :class:`~graftlm.core.errors.DocumentLoadError` with the reason. It knows
nothing about chunking or embedding.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from graftlm.core import jsonl
from graftlm.core.errors import DocumentLoadError

TEXT_SUFFIXES = {".txt", ".text", ".rst", ".log"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | {".pdf", ".jsonl"}


@dataclass(frozen=True)
class SourceText:
    """Text from one file (or one page or record of it) and where it came from."""

    source: str  # path relative to the indexed folder
    text: str
    kind: str  # text | markdown | html | pdf | jsonl
    doc_id: str  # what retrieval evaluation matches gold ids against
    page: int | None = None
    line: int | None = None  # first line of the text in the file (JSONL: the record's line)


def discover(root: Path) -> list[Path]:
    """All files under ``root`` (recursively, sorted), hidden files and folders excluded."""
    if not root.is_dir():
        raise DocumentLoadError(root, "is not a folder; pass the folder of documents to index")
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def load(path: Path, root: Path, *, max_bytes: int, text_field: str = "text",
         id_field: str | None = None, max_pages: int = 5000,
         max_seconds: float = 120.0) -> list[SourceText]:
    """Load one file. Raises :class:`DocumentLoadError` for anything unreadable, and for a
    link that leads outside ``root`` (a ``notes.txt`` pointing at a credentials file must not
    be indexed and then served in citations)."""
    rel = path.relative_to(root).as_posix()
    if not path.resolve().is_relative_to(root.resolve()):
        raise DocumentLoadError(rel, "is a link to a file outside the folder; skipped, so that "
                                "nothing outside the folder is indexed (copy the file in if it "
                                "belongs)")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentLoadError(rel, f"unsupported file type '{suffix or path.name}' "
                                f"(supported: {', '.join(sorted(SUPPORTED))})")
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentLoadError(rel, f"is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB "
                                "limit (setting rag.max_file_mb)")
    if suffix == ".pdf":
        return _pdf(path, rel, max_pages, max_seconds)
    text = _read_text(path, rel)
    if suffix == ".jsonl":
        return list(_jsonl(text, rel, text_field, id_field))
    if suffix in HTML_SUFFIXES:
        try:
            return [SourceText(rel, html_to_markdown(text), "html", rel)]
        except (AssertionError, ValueError, IndexError) as exc:
            # html.parser asserts on some malformed markup ("<![foo[ y ]]>")
            raise DocumentLoadError(rel, f"is HTML the parser cannot read ({type(exc).__name__}"
                                    f"{': ' + str(exc) if str(exc) else ''})") from None
    kind = "markdown" if suffix in MARKDOWN_SUFFIXES else "text"
    return [SourceText(rel, text, kind, rel, line=1)]


def _read_text(path: Path, rel: str) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise DocumentLoadError(rel, "looks binary (NUL bytes); it is not a text document")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DocumentLoadError(rel, f"is not UTF-8 (invalid byte 0x{raw[exc.start]:02x} on line "
                                f"{line}); convert it to UTF-8") from None


def _pdf(path: Path, rel: str, max_pages: int, max_seconds: float) -> list[SourceText]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:  # pragma: no cover - depends on the environment
        raise DocumentLoadError(rel, "reading PDFs needs pypdf: pip install pypdf") from None
    started = time.monotonic()
    try:
        reader = PdfReader(path)
        count = len(reader.pages)
        if count > max_pages:
            raise DocumentLoadError(rel, f"has {count:,} pages, over the {max_pages:,} limit "
                                    "(setting rag.max_pages)")
        pages = []
        for i, page in enumerate(reader.pages):
            if time.monotonic() - started > max_seconds:
                raise DocumentLoadError(rel, f"took over {max_seconds:g} s to read (at page "
                                        f"{i + 1} of {count}; setting rag.max_file_seconds)")
            pages.append((i + 1, page.extract_text() or ""))
    except DocumentLoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, RecursionError, OSError, ZeroDivisionError) as exc:
        # pypdf's LimitReachedError, ParseError and DependencyError are PyPdfErrors; damaged
        # files raise builtins from deep inside the parser.
        raise DocumentLoadError(rel, f"is not a readable PDF ({type(exc).__name__}: {exc})"
                                ) from None
    texts = [SourceText(rel, text, "pdf", rel, page=n) for n, text in pages if text.strip()]
    if not texts:
        raise DocumentLoadError(rel, "has no text layer (a scanned PDF?); run OCR first")
    return texts


def _jsonl(text: str, rel: str, text_field: str, id_field: str | None) -> Iterator[SourceText]:
    for n, record, problem in jsonl.records(text):
        if problem is not None:
            raise DocumentLoadError(rel, f"line {n}: {problem}")
        if not isinstance(record.get(text_field), str):
            raise DocumentLoadError(rel, f"line {n} has no string field '{text_field}' (choose "
                                    "the field with --text-field)")
        doc_id = f"{rel}:{n}"
        if id_field is not None:
            if record.get(id_field) is None:
                raise DocumentLoadError(rel, f"line {n} has no field '{id_field}'")
            doc_id = str(record[id_field])
        yield SourceText(rel, record[text_field], "jsonl", doc_id, line=n)


class _HtmlText(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "head"}
    _BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "table", "ul", "ol", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skip += 1
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"} or tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_markdown(html: str) -> str:
    """Visible text of an HTML page, headings kept as Markdown headings for chunking."""
    parser = _HtmlText()
    parser.feed(html)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    out, blank = [], False
    for line in lines:
        if line or not blank:
            out.append(line)
        blank = not line
    return "\n".join(out).strip()
