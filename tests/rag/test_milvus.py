"""An index held in Milvus (Milvus Lite in a file here): built, searched like the folder store,
updated into a new collection while a reader keeps the build it loaded, old builds retired."""

import pytest

from graftlm.core.errors import ArtifactError, BackendUnavailableError
from graftlm.core.settings import MilvusSettings
from graftlm.core.workspace import Workspace
from graftlm.rag.index import load_index
from graftlm.rag.milvus import MilvusWriter, base_name, client, resolved
from graftlm.rag.retrieve import search
from tests.rag.conftest import build

pytest.importorskip("pymilvus")


@pytest.fixture
def milvus(tmp_path):
    return resolved(MilvusSettings(uri=str(tmp_path / "milvus.db")), Workspace(tmp_path))


def collections(settings, ws, index="kb"):
    base = base_name(settings, index, ws)
    return sorted(c for c in client(settings.uri, None).list_collections()
                  if c.startswith(base + "_"))


def test_milvus_answers_as_the_folder_store_does(docs, tmp_path, word_embedder, milvus):
    ws = Workspace(tmp_path / "home")
    build(docs, ws, word_embedder)
    build(docs, ws, word_embedder, store=MilvusWriter(milvus, ws), force=True)
    held = load_index("kb", workspace=ws, embedder=word_embedder)
    manifest = held.manifest
    assert manifest["store"]["type"] == "milvus" and manifest["store"]["uri"] == milvus.uri
    assert held.version["collection"] == manifest["store"]["collection"]
    assert not (ws.path("indexes", "kb") / "dense.faiss").exists()
    ws_local = Workspace(tmp_path / "local")
    build(docs, ws_local, word_embedder)
    local = load_index("kb", workspace=ws_local, embedder=word_embedder)
    assert [c.id for c in held.chunks] == [c.id for c in local.chunks]
    for query in ("how long is the warranty", "factory settings reset button",
                  "guest networks expire"):
        dense = search(held, query, k=3, mode="dense")
        alike = search(local, query, k=3, mode="dense")
        assert dense[0].chunk.id == alike[0].chunk.id  # below, ties may come in either order
        assert [r.score for r in dense] == pytest.approx([r.score for r in alike], abs=1e-5)
        for mode in ("sparse", "hybrid"):
            assert search(held, query, k=1, mode=mode)[0].chunk.id == \
                search(local, query, k=1, mode=mode)[0].chunk.id, (query, mode)
    assert search(held, "zzzz unknown words", k=3, mode="sparse") == []
    assert search(held, "what is it", k=3, mode="sparse") == []  # stop words only


def test_an_update_is_a_new_collection_and_readers_keep_theirs(docs, tmp_path, word_embedder,
                                                               milvus):
    ws = Workspace(tmp_path / "home")
    writer = MilvusWriter(milvus, ws)
    build(docs, ws, word_embedder, store=writer)
    before = load_index("kb", workspace=ws, embedder=word_embedder)
    (docs / "sub" / "warranty.txt").write_text("The warranty now lasts three years.")
    report = build(docs, ws, word_embedder, store=writer, update=True)
    assert report.reused_files == 2
    after = load_index("kb", workspace=ws, embedder=word_embedder)
    assert after.version["collection"] != before.version["collection"]
    # The reader that loaded the first build still sees all of it, and only it.
    assert "two years" in search(before, "warranty", k=1)[0].chunk.text
    assert "three years" in search(after, "warranty", k=1)[0].chunk.text
    alias = client(milvus.uri, None).describe_alias(base_name(milvus, "kb", ws))
    assert alias["collection_name"] == after.version["collection"]
    assert collections(milvus, ws) == sorted([before.version["collection"],
                                          after.version["collection"]])
    # A third build retires the first (rag.milvus.keep_builds = 2), and its reader is told.
    build(docs, ws, word_embedder, store=writer, force=True)
    assert before.version["collection"] not in collections(milvus, ws)
    assert len(collections(milvus, ws)) == 2
    with pytest.raises(ArtifactError, match="keep_builds"):
        type(before.store)(before.manifest["store"], None, len(before))
    with pytest.raises(ArtifactError, match="keep_builds"):  # a server that loaded it earlier
        search(before, "warranty", k=1)


def test_a_failed_build_leaves_the_previous_one_and_its_collection(docs, tmp_path,
                                                                  word_embedder, milvus):
    ws = Workspace(tmp_path / "home")
    build(docs, ws, word_embedder, store=MilvusWriter(milvus, ws))
    first = load_index("kb", workspace=ws, embedder=word_embedder).version["collection"]

    class Broken(MilvusWriter):
        def write(self, *args, **kwargs):
            super().write(*args, **kwargs)
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        build(docs, ws, word_embedder, store=Broken(milvus, ws), force=True)
    assert load_index("kb", workspace=ws, embedder=word_embedder).version["collection"] == first
    build(docs, ws, word_embedder, store=MilvusWriter(milvus, ws), force=True)
    assert len(collections(milvus, ws)) == 2  # the broken build's collection was dropped


def test_an_unreachable_milvus_is_a_clear_error():
    with pytest.raises(BackendUnavailableError, match="cannot open Milvus at http://127.0.0.1:1"):
        client("http://127.0.0.1:1", None)


def test_removing_the_index_or_leaving_milvus_drops_its_collections(docs, tmp_path,
                                                                    word_embedder, milvus):
    from graftlm.rag.index import remove_index

    ws = Workspace(tmp_path / "home")
    writer = MilvusWriter(milvus, ws)
    build(docs, ws, word_embedder, store=writer)
    build(docs, ws, word_embedder, store=writer, force=True)
    assert len(collections(milvus, ws)) == 2
    remove_index("kb", workspace=ws, milvus=milvus)
    assert collections(milvus, ws) == [] and not ws.exists("indexes", "kb")
    assert base_name(milvus, "kb", ws) not in client(milvus.uri, None).list_aliases()["aliases"]
    # Rebuilt into the folder store, an index leaves Milvus too.
    build(docs, ws, word_embedder, store=writer)
    build(docs, ws, word_embedder, force=True)
    assert collections(milvus, ws) == []
    assert load_index("kb", workspace=ws, embedder=word_embedder).manifest["dense"]["type"]
