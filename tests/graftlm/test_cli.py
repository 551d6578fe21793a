"""The ``graft`` CLI over argument, file and stdin, and its error edge."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graftlm.cli import COMMANDS, _load, app

runner = CliRunner()
TASK = "Route IT tickets into our 40 internal queues; 12k tickets are labelled."

def advise(*args, input=None):
    return runner.invoke(app, ["advise", "--lexical", *args], input=input)

def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("advise", "config", "models"):
        assert command in result.stdout

def test_help_imports_no_heavy_library_and_no_stage():
    code = ("import sys; from graftlm.cli import main; sys.argv=['graft','--help']\n"
            "try: main()\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('torch','transformers','faiss','vllm','sentence_transformers',"
            "'numpy', 'graftlm.advisor.cli', 'graftlm.rag.cli', 'graftlm.tuning.cli', "
            "'graftlm.serving.cli') if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def _entries(table, prefix=()):
    for name, entry in table.items():
        yield (*prefix, name), entry
        if len(entry) == 2:
            yield from _entries(entry[1], (*prefix, name))


@pytest.mark.parametrize("path, entry", list(_entries(COMMANDS)),
                         ids=[" ".join(path) for path, _ in _entries(COMMANDS)])
def test_the_roots_table_says_what_each_command_says_of_itself(path, entry):
    """The root lists its commands from its table without loading them: each line must be the
    command's own first paragraph of help, and each command must load as the table says."""
    command = _load(path[-1], entry)
    own = " ".join((command.help or "").split("\n\n")[0].split())
    assert own == (entry[0] if len(entry) == 2 else entry[2])
    assert command.name == path[-1]


def test_a_group_of_one_command_stays_a_group():
    result = runner.invoke(app, ["config", "show", "--help"])
    assert result.exit_code == 0, result.output

def test_advise_from_argument():
    result = advise(TASK)
    assert result.exit_code == 0, result.output
    assert "Recommendation: LoRA adapter (PEFT)" in result.stdout
    assert "$ graft train data.jsonl --name task" in result.stdout

def test_advise_from_file_and_stdin_agree(tmp_path):
    path = tmp_path / "task.txt"
    path.write_text(TASK)
    from_file = json.loads(advise("--file", str(path), "--json").stdout)
    from_stdin = json.loads(advise("--json", input=TASK).stdout)
    from_dash = json.loads(advise("-", "--json", input=TASK).stdout)
    assert from_file == from_stdin == from_dash
    assert from_file["recommendation"] == "lora"
    assert from_file["schema_version"] == "graftlm.advice/v1"

def test_json_output_validates_against_the_model():
    from graftlm.advisor import Advice

    data = advise(TASK, "--json").stdout
    assert Advice.model_validate_json(data).recommendation == "lora"

def test_schema_flag_prints_json_schema():
    result = runner.invoke(app, ["advise", "--schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["$id"] == "graftlm.advice/v1"

def test_fact_flags_override_the_text():
    text = "Tag tickets with our 12 categories. We have 5 examples."
    assert json.loads(advise(text, "--json").stdout)["recommendation"] == "few_shot"
    data = json.loads(advise(text, "--json", "--examples-count", "4000").stdout)
    assert data["recommendation"] == "lora"
    assert data["overridden"][0]["evidence"] == "5 examples"
    data = json.loads(advise("Answer customer questions about our products.", "--json",
                             "--docs-change", "daily", "--citations").stdout)
    assert data["recommendation"] == "rag"

@pytest.mark.parametrize("args, stdin, message", [
    ([""], None, "the description is empty"),
    ([], "", "standard input is empty"),
    (["x" * 20_001], None, "limit is 20,000"),
    (["both", "--file", "task.txt"], None, "not both"),
    (["--file", "missing.txt"], None, "missing.txt does not exist"),
])
def test_bad_input_is_a_clear_error(args, stdin, message):
    Path("task.txt").write_text("something")
    result = advise(*args, input=stdin)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output

def test_one_megabyte_description(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * 210_000)
    result = advise("--file", str(big))
    assert result.exit_code == 2 and "big.txt is 1,050,000 bytes" in result.stderr
    result = advise(input="word " * 210_000)
    assert result.exit_code == 2 and "standard input is over" in result.stderr

def test_non_utf8_file(tmp_path):
    path = tmp_path / "cp1252.txt"
    path.write_bytes("Tag caf\xe9 reviews".encode("latin-1"))
    result = advise("--file", str(path))
    assert result.exit_code == 2
    assert "cp1252.txt is not UTF-8" in result.stderr and "offset 7" in result.stderr

def test_unknown_flag_is_a_usage_error():
    result = advise(TASK, "--examples-cont", "3")
    assert result.exit_code == 2
    assert "No such option" in result.output and "--examples-cont" in result.output

def test_debug_shows_the_traceback():
    result = runner.invoke(app, ["--debug", "advise", "--lexical", ""])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "InputError"

def test_config_show_reports_sources(monkeypatch):
    Path("graft.toml").write_text("[advisor]\nsemantic = false\n")
    monkeypatch.setenv("GRAFT_MODELS__DTYPE", "float32")
    data = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert data["advisor.semantic"] == {"value": False, "source": f"file {Path.cwd()}/graft.toml"}
    assert data["models.dtype"] == {"value": "float32", "source": "env GRAFT_MODELS__DTYPE"}
    assert data["models.base"]["source"] == "default"
    table = runner.invoke(app, ["config", "show"]).stdout
    assert "GRAFT_MODELS__DTYPE" in table

def test_bad_setting_fails_cleanly(monkeypatch):
    monkeypatch.setenv("GRAFT_ADVISOR__SEMANTIC_THRESHOLD", "high")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "GRAFT_ADVISOR__SEMANTIC_THRESHOLD" in result.stderr

def test_models_list_json(tmp_path):
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "models", "list", "--json"])
    assert result.exit_code == 0
    base, embedder = json.loads(result.stdout)
    assert base["role"] == "base" and base["ready"] is False
    assert embedder["name"] == "all-MiniLM-L6-v2" and embedder["ready"] is True
