"""What interrupted writes leave behind, and two jobs on one name: checkpoints swept and put
back, a run's name held for the run, the merged-weights cache marked complete."""

import pytest

from graftlm.core.errors import ArtifactError
from graftlm.core.workspace import Workspace
from graftlm.tuning import checkpoint


def test_a_checkpoint_save_sweeps_leftovers_and_never_removes_a_step_first(tmp_path):
    run = tmp_path / "runs" / "a"
    (run / ".tmp-step-0000003").mkdir(parents=True)  # an interrupted save's folder
    (run / ".tmp-step-0000003" / "state.pt").write_bytes(b"torn")
    first = checkpoint.save(run, 4, {"step": 4, "v": 1}, keep=2)
    assert not list(run.glob(".tmp-step-*"))
    again = checkpoint.save(run, 4, {"step": 4, "v": 2}, keep=2)  # the same step once more
    assert again == first and not list(run.glob(".old-step-*"))
    import torch

    assert torch.load(again / "state.pt", weights_only=True)["v"] == 2


def test_a_step_moved_aside_by_an_interrupted_save_is_put_back(tmp_path):
    run = tmp_path / "runs" / "b"
    saved = checkpoint.save(run, 7, {"step": 7}, keep=2)
    saved.rename(run / ".old-step-0000007")  # the crash came between the two renames
    assert checkpoint.checkpoints(run) == []
    checkpoint.sweep(run)
    assert checkpoint.checkpoints(run) == [saved]


def test_a_runs_name_is_held_for_the_whole_run(tmp_path):
    workspace = Workspace(tmp_path)
    with workspace.claim("adapters", "voice", "graft train"):
        with pytest.raises(ArtifactError, match="another graft train is running for adapter "
                                                "'voice'"):
            with workspace.claim("adapters", "voice", "graft train"):
                pass
        with workspace.claim("adapters", "other", "graft train"):  # other names are free
            pass
    with workspace.claim("adapters", "voice", "graft train"):  # released after the run
        pass


def test_a_merged_copy_without_its_completion_mark_is_made_again(tmp_path, monkeypatch):
    from graftlm.core.settings import Settings
    from graftlm.tuning import merge

    workspace = Workspace(tmp_path)
    made = []

    def fake_merge(name, out, settings, workspace, *, force, dtype):
        made.append(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text("{}")
        return out

    monkeypatch.setattr(merge, "merge_adapter", fake_merge)
    root = tmp_path / "cache" / "merged"
    torn = root / "voice-abc"
    torn.mkdir(parents=True)
    (torn / "config.json").write_text("{}")  # all a killed merge left
    (root / ".voice-abc.partial").mkdir()
    out = merge.merged_copy("voice", "abc", Settings(home=tmp_path), workspace)
    assert made == [torn] and (out / merge.COMPLETE).is_file()
    assert not (root / ".voice-abc.partial").exists()
    assert merge.merged_copy("voice", "abc", Settings(home=tmp_path), workspace) == out
    assert len(made) == 1  # complete now: not merged again
