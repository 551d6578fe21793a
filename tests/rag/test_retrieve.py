"""Search: dense, sparse and fused rankings."""

from graftlm.core.workspace import Workspace
from graftlm.rag.index import load_index
from graftlm.rag.retrieve import rrf, search
from tests.rag.conftest import build


def test_search_modes_find_the_right_chunk(docs, tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    build(docs, ws, word_embedder)
    index = load_index("kb", workspace=ws, embedder=word_embedder)
    for mode in ("hybrid", "dense", "sparse"):
        (top, *_) = search(index, "how long does the warranty last", k=2, mode=mode)
        assert top.chunk.source == "sub/warranty.txt", mode
    hybrid = search(index, "reset button factory settings", k=3)
    assert hybrid[0].chunk.heading == "Reset"
    assert hybrid[0].dense_rank is not None and hybrid[0].sparse_rank is not None


def test_rrf_rewards_agreement():
    fused = [i for i, _ in rrf([[1, 2, 3], [3, 2, 9]], k=10)]
    assert set(fused[:2]) == {2, 3} and fused[-1] == 9
    weighted = rrf([[1, 2], [2, 1]], k=10, weights=(1.0, 0.5))
    assert weighted[0][0] == 1
