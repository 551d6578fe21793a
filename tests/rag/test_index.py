import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from graftlm.core.errors import ArtifactError, ConfigError, DocumentLoadError
from graftlm.core.settings import RagSettings
from graftlm.core.workspace import Workspace
from graftlm.rag.index import load_index
from graftlm.rag.retrieve import search
from tests.rag.conftest import build


def test_build_writes_a_self_describing_index(docs, tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    report = build(docs, ws, word_embedder)
    assert (report.files, report.embedded, report.skipped) == (3, report.chunks, [])
    manifest = ws.get("indexes", "kb").manifest
    assert manifest["embedder"] == "fake-words" and manifest["dim"] == 256
    assert manifest["chunking"]["chunk_tokens"] == 40
    assert set(manifest["files"]) == {"reset.md", "sub/warranty.txt", "faq.html"}
    assert len(manifest["files"]["reset.md"]["sha256"]) == 64
    assert manifest["chunk_count"] == report.chunks and manifest["format_version"] == 1


def test_update_reembeds_only_changed_files(docs, tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    first = build(docs, ws, word_embedder)
    (docs / "sub" / "warranty.txt").write_text("The warranty now lasts three years.")
    (docs / "faq.html").unlink()
    (docs / "new.md").write_text("# New\n\nA brand new page about parental controls.")
    report = build(docs, ws, word_embedder, update=True)
    assert report.reused_files == 1 and report.removed_files == ["faq.html"]
    assert report.embedded < first.chunks + 2
    index = load_index("kb", workspace=ws, embedder=word_embedder)
    assert {c.source for c in index.chunks} == {"reset.md", "sub/warranty.txt", "new.md"}
    vectors = np.load(ws.path("indexes", "kb") / "vectors.npy")
    fresh = word_embedder.embed([c.embedding_text() for c in index.chunks])
    assert np.allclose(vectors, fresh, atol=1e-6)  # reused vectors sit with their chunks
    assert search(index, "three years warranty", k=1)[0].chunk.text.startswith("The warranty now")


def test_name_collision_needs_force(docs, tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    build(docs, ws, word_embedder)
    with pytest.raises(ArtifactError, match="--force"):
        build(docs, ws, word_embedder)
    build(docs, ws, word_embedder, force=True)


def test_bad_files_are_skipped_or_fatal(docs, tmp_path, word_embedder):
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    ws = Workspace(tmp_path / "home")
    report = build(docs, ws, word_embedder)
    assert dict(report.skipped).keys() == {"blob.txt", "broken.pdf"}
    assert ws.get("indexes", "kb").manifest["skipped"][0]["file"] == "blob.txt"
    with pytest.raises(DocumentLoadError, match="blob.txt: looks binary"):
        build(docs, ws, word_embedder, strict=True, force=True)
    assert ws.exists("indexes", "kb")  # the failed strict build left the index in place


def test_empty_and_unreadable_folders(tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocumentLoadError, match="is empty"):
        build(tmp_path / "empty", ws, word_embedder)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.bin").write_bytes(b"\x00")
    with pytest.raises(DocumentLoadError, match="no readable text in 1 files"):
        build(tmp_path / "junk", ws, word_embedder)


def test_other_embedder_is_refused(docs, tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    build(docs, ws, word_embedder)

    class Other(type(word_embedder)):
        name = "another-model"

    with pytest.raises(ConfigError, match="built with the embedder 'fake-words'"):
        load_index("kb", workspace=ws, embedder=Other())


def test_approximate_index_reports_recall(docs, tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    report = build(docs, ws, word_embedder, settings=RagSettings(chunk_tokens=40,
                                                                 exact_max_chunks=1))
    assert report.dense == "hnsw" and 0.5 <= report.recall_at_10 <= 1.0
    assert load_index("kb", workspace=ws, embedder=word_embedder).store.index.ntotal \
        == report.chunks


KILLABLE = """
import sys, time
sys.path.insert(0, {root!r})
from tests.conftest import WordEmbedder
from graftlm.core.settings import RagSettings
from graftlm.core.workspace import Workspace
from graftlm.rag.index import build_index

class Slow(WordEmbedder):
    def embed(self, texts):
        print("EMBEDDING", flush=True)
        time.sleep(60)
        return super().embed(texts)

build_index({docs!r}, "kb", workspace=Workspace({home!r}), settings=RagSettings(chunk_tokens=40),
            embedder=Slow(), force=True)
"""


def test_killed_build_leaves_previous_index_intact(docs, tmp_path, word_embedder):
    home = tmp_path / "home"
    ws = Workspace(home)
    build(docs, ws, word_embedder)
    before = (ws.path("indexes", "kb") / "chunks.jsonl").read_text()
    (docs / "more.txt").write_text("Extra text that the killed build never finishes.")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE.format(
        root=root, docs=str(docs), home=str(home))], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "EMBEDDING"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.1)
    assert (ws.path("indexes", "kb") / "chunks.jsonl").read_text() == before
    index = load_index("kb", workspace=ws, embedder=word_embedder)
    assert "more.txt" not in {c.source for c in index.chunks}
    assert [a.name for a in ws.list("indexes")] == ["kb"]
    assert json.loads((ws.path("indexes", "kb") / "manifest.json").read_text())["chunk_count"]
