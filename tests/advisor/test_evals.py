"""``graft eval run`` / ``compare``: saved runs and paired differences."""

import json

import pytest

from tests.advisor.conftest import ROWS, write_rows


def test_the_harness_saves_runs_and_compares_them_pairwise(tmp_path, tiny_settings):
    from graftlm.advisor.evals import compare, run_eval
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap

    workspace = Workspace(tiny_settings.home)
    data = write_rows(tmp_path / "data.jsonl", ROWS * 3)
    fields = FieldMap(target="label", input="text")
    first = run_eval(data, "base", tiny_settings, workspace, fields=fields, name="one")
    run_eval(data, "base", tiny_settings, workspace, fields=fields, limit=6, name="two")
    assert first["examples"] == 12 and first["metric"] == "choice_accuracy"
    assert set(first["metrics"]) == {"choice_accuracy", "exact_match"}
    rows = compare(workspace, ["one", "two"])
    assert rows[0]["vs_first"] is None
    assert rows[1]["vs_first"]["examples"] == 6  # the examples both runs scored
    assert rows[1]["vs_first"]["difference"] == pytest.approx(
        rows[1]["score"] - _mean_first_six(workspace), abs=1e-4)


def _mean_first_six(workspace):
    scores = json.loads((workspace.path("evals", "one") / "scores.json").read_text())
    first = [scores[k] for k in sorted(scores, key=int)[:6]]
    return sum(first) / 6
