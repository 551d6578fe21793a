"""``graft adapters merge`` leaves what it would overwrite alone."""

import pytest

from graftlm.core.errors import ArtifactError
from graftlm.core.settings import Settings
from graftlm.core.workspace import Workspace
from graftlm.tuning.merge import merge_adapter


def test_merge_refuses_a_non_empty_target(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(ArtifactError, match="not empty; pass --force"):
        merge_adapter("x", out, Settings(home=tmp_path), Workspace(tmp_path))
    assert (out / "keep.txt").read_text() == "precious"
