"""--reader-url: a model behind an OpenAI-compatible endpoint extracts the task's facts through
structured output; here a local stub server plays that model, for the real openai client."""

import json

import pytest
from typer.testing import CliRunner

from graftlm.advisor import Advisor
from graftlm.advisor.llm_reader import ModelReader, TaskFacts, reader_hits
from graftlm.cli import app
from graftlm.core.errors import BackendUnavailableError

POST = "We fine-tuned Llama on our product FAQ and it still quotes last year's prices."


FACTS = {"needs_facts_from_documents": True, "facts_change": "monthly", "must_cite_sources": None,
         "labelled_examples": None, "fixed_output_format": None, "style_or_voice": None,
         "classification_or_extraction": None, "tried": "fine_tuning",
         "failure": "facts_missing_or_wrong", "new_language_or_pretraining": None,
         "evidence": {"failure": "still quotes last year's prices"}}


def test_the_reader_model_gets_the_schema_and_its_facts_become_signals(endpoint):
    endpoint["reply"] = FACTS
    facts = ModelReader(endpoint["url"], "big").extract(POST)
    path, body = endpoint["requests"][0]
    assert path == "/v1/chat/completions" and body["model"] == "big"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == TaskFacts.model_json_schema()
    assert body["messages"][-1]["content"] == POST
    hits = {h.signal: h for h in reader_hits(facts)}
    assert set(hits) == {"private_documents", "static_knowledge", "tried_tuning",
                         "facts_not_learned"}
    assert hits["facts_not_learned"].evidence == "still quotes last year's prices"
    assert {h.method for h in hits.values()} == {"reader"}
    advice = Advisor().advise("Help with our product bot.", found=list(hits.values()))
    assert advice.recommendation == "rag"
    assert "failed_tuning_means_knowledge" in {r.id for r in advice.rules}


def test_a_reply_off_the_schema_or_no_server_is_a_clear_error(endpoint):
    endpoint["reply"] = "I think you should use RAG."
    with pytest.raises(BackendUnavailableError, match="do not fit the schema"):
        ModelReader(endpoint["url"], "small").extract(POST)
    with pytest.raises(BackendUnavailableError, match="does not answer"):
        ModelReader("http://127.0.0.1:9/v1", "m", timeout=2).extract(POST)


def test_the_command_shows_the_readers_signals(endpoint, tmp_path):
    endpoint["reply"] = FACTS
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(tmp_path), "advise", POST, "--lexical", "--json",
                                 "--reader-url", endpoint["url"], "--reader-model", "big"])
    assert result.exit_code == 0, result.output
    advice = json.loads(result.stdout)
    assert advice["recommendation"] == "rag"
    assert {s["id"] for s in advice["signals"] if s["method"] == "reader"} >= {
        "facts_not_learned", "private_documents"}
    half = runner.invoke(app, ["--home", str(tmp_path), "advise", POST, "--lexical",
                               "--reader-url", endpoint["url"]])
    assert half.exit_code == 2 and "--reader-model" in half.output
