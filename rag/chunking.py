"""Chunking: structure-aware (Markdown headings, paragraphs) and token-aware.

Markdown (and HTML, which the loader turns into Markdown) is first cut into sections at
headings, so a chunk never straddles two sections and carries its heading path. Each section is
then split by LangChain's ``RecursiveCharacterTextSplitter`` — paragraphs first, then lines,
sentences, words — measuring length in the embedder's own tokens. Every chunk keeps its source,
location (heading path, page, line range) and a stable id. Pure functions; no model is loaded
here (the token counter is passed in).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from graftlm.rag.loaders import SourceText

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, small enough to embed, with where it came from."""

    id: str
    text: str
    source: str
    doc_id: str
    kind: str
    heading: str = ""
    page: int | None = None
    lines: tuple[int, int] | None = None

    def location(self) -> str:
        """Where the chunk is, for people: 'page 3', 'lines 10-24', with the heading path."""
        parts = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.lines is not None:
            a, b = self.lines
            parts.append(f"line {a}" if a == b else f"lines {a}-{b}")
        if self.heading:
            parts.append(f"§ {self.heading}")
        return ", ".join(parts)

    def embedding_text(self) -> str:
        """What is embedded: the heading path gives a chunk the context of its section."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        lines = data.get("lines")
        return cls(**{**data, "lines": tuple(lines) if lines else None})


@dataclass(frozen=True)
class Section:
    heading: str
    text: str
    start: int  # character offset of ``text`` in the source text


def sections(text: str) -> list[Section]:
    """Cut Markdown at headings; each section knows its heading path ("A > B")."""
    out: list[Section] = []
    path: list[tuple[int, str]] = []
    pos = 0
    heading = ""
    for m in _HEADING.finditer(text):
        if text[pos:m.start()].strip():
            out.append(Section(heading, text[pos:m.start()], pos))
        level = len(m.group(1))
        path = [(lvl, title) for lvl, title in path if lvl < level] + [(level, m.group(2).strip())]
        heading = " > ".join(title for _, title in path)
        pos = m.end()
    if text[pos:].strip():
        out.append(Section(heading, text[pos:], pos))
    return out


def make_splitter(chunk_tokens: int, overlap_tokens: int, count_tokens: Callable[[str], int]):
    """LangChain's recursive splitter, measuring length with ``count_tokens``."""
    from functools import lru_cache

    from langchain_text_splitters import RecursiveCharacterTextSplitter

    # The splitter measures the same pieces many times while merging; tokenize each once.
    counted = lru_cache(maxsize=65_536)(count_tokens)
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_tokens, chunk_overlap=min(overlap_tokens, chunk_tokens // 2),
        length_function=counted, add_start_index=True,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""])


def chunk_source(src: SourceText, splitter) -> list[Chunk]:
    """Split one loaded text into chunks."""
    structured = src.kind in {"markdown", "html"}
    parts = sections(src.text) if structured else [Section("", src.text, 0)]
    chunks = []
    for section in parts:
        for doc in splitter.create_documents([section.text]):
            body = doc.page_content.strip()
            if not body:
                continue
            start = section.start + doc.metadata["start_index"]
            lines = None
            if src.line is not None and src.kind != "jsonl":
                first = src.text.count("\n", 0, start) + src.line
                lines = (first, first + doc.page_content.count("\n"))
            elif src.kind == "jsonl":
                lines = (src.line, src.line)
            chunks.append(Chunk(
                id=chunk_id(src.source, src.page, start, body), text=body, source=src.source,
                doc_id=src.doc_id, kind=src.kind, heading=section.heading, page=src.page,
                lines=lines))
    return chunks


def chunk_all(sources: Iterable[SourceText], splitter) -> list[Chunk]:
    return [c for src in sources for c in chunk_source(src, splitter)]


def chunk_id(source: str, page: int | None, start: int, text: str) -> str:
    """Stable across rebuilds: the same text at the same place gets the same id."""
    key = f"{source}\x00{page}\x00{start}\x00{text}".encode()
    return hashlib.sha1(key).hexdigest()[:16]
