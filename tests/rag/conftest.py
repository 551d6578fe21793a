"""A small folder of documents and a helper that indexes it with the fake word embedder."""

import pytest

from graftlm.core.settings import RagSettings
from graftlm.rag.index import build_index


SETTINGS = RagSettings(chunk_tokens=40, chunk_overlap=5)


@pytest.fixture
def docs(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "reset.md").write_text("# Reset\n\nHold the reset button for fifteen seconds to "
                                   "restore factory settings.\n\n# Power\n\nUnplug the power "
                                   "cable and wait ten seconds.")
    (root / "sub" / "warranty.txt").write_text("The warranty lasts two years from purchase.")
    (root / "faq.html").write_text("<h1>FAQ</h1><p>Guest networks expire after a day.</p>")
    return root


def build(docs, ws, embedder, **kw):
    return build_index(docs, "kb", workspace=ws, settings=kw.pop("settings", SETTINGS),
                       embedder=embedder, **kw)
