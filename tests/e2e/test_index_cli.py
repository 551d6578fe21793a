"""End-to-end: `graft index` and `graft eval retrieval` on the real embedded embedder."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graftlm.cli import app

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa"
runner = CliRunner()


def graft(*args):
    return runner.invoke(app, list(args))


def test_build_query_update_list_show_rm(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "examples" / "docs", docs)
    built = graft("index", "build", str(docs), "--name", "kb")
    assert built.exit_code == 0, built.output
    count = sum(1 for path in docs.rglob("*") if path.is_file())
    assert f"built index 'kb': {count} files" in built.stdout

    hits = json.loads(graft("index", "query", "kb", "How do I factory reset the router?",
                            "-k", "3", "--json").stdout)
    assert hits[0]["source"] == "reset-and-recovery.md"
    assert "Factory reset" in hits[0]["heading"] and hits[0]["lines"][0] > 1
    table = graft("index", "query", "kb", "how long is the warranty", "-k", "1").stdout
    assert "warranty.txt" in table

    again = graft("index", "build", str(docs), "--name", "kb")
    assert again.exit_code != 0 and "--force" in again.stderr

    (docs / "warranty.txt").write_text("Every router now has a three-year warranty.")
    updated = graft("index", "update", "kb")
    assert updated.exit_code == 0, updated.output
    assert f"{count - 1} files reused" in updated.stdout
    hits = json.loads(graft("index", "query", "kb", "warranty years", "-k", "1", "--json").stdout)
    assert "three-year" in hits[0]["text"]

    listed = json.loads(graft("index", "list", "--json").stdout)
    assert [row["name"] for row in listed] == ["kb"] and listed[0]["files"] == count
    manifest = json.loads(graft("index", "show", "kb").stdout)
    assert manifest["embedder"] == "all-MiniLM-L6-v2" and manifest["dim"] == 384
    assert graft("index", "rm", "kb").exit_code == 0
    missing = graft("index", "query", "kb", "anything")
    assert missing.exit_code != 0 and "no index named 'kb'" in missing.stderr


def test_bad_folders_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    result = graft("index", "build", str(tmp_path / "empty"), "--name", "x")
    assert result.exit_code == 1 and "is empty" in result.stderr
    assert "Traceback" not in result.output
    result = graft("index", "build", str(tmp_path / "nope"), "--name", "x")
    assert result.exit_code == 1 and "is not a folder" in result.stderr


@pytest.mark.skipif(not PUBMEDQA.is_dir(), reason="shared PubMedQA data not present")
def test_eval_retrieval_on_pubmedqa_sample(tmp_path):
    corpus = [json.loads(line) for line in (PUBMEDQA / "corpus.jsonl").open()][:60]
    questions = [json.loads(line) for line in (PUBMEDQA / "questions.jsonl").open()]
    ids = {doc["_id"] for doc in corpus}
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in questions if q["gold_doc_id"] in ids))
    built = graft("index", "build", str(docs), "--name", "pm", "--id-field", "_id")
    assert built.exit_code == 0, built.output
    result = graft("eval", "retrieval", "pm", "--queries", str(qfile), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    assert set(metrics) == {"hybrid", "dense", "sparse"}
    assert all(0.8 <= m["hit@10"] <= 1.0 for m in metrics.values())
    assert metrics["hybrid"]["ndcg@10"] >= 0.8
