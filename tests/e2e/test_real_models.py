"""End-to-end: the packaged SmolLM2-135M-Instruct and all-MiniLM-L6-v2, for real."""

import json
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import graft

pytestmark = pytest.mark.e2e
BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def embedder():
    """The embedder as the advisor loads it without the numpy path: float32 torch."""
    from graftlm.core.embedder import load_embedder
    from graftlm.core.settings import ModelSettings

    return load_embedder(ModelSettings(embedder_backend="torch"))


def test_prepare_converts_once_and_the_model_answers():
    first = graft("models", "prepare")
    assert first.returncode == 0, first.stderr
    path = Path(first.stdout.strip())
    assert (path / "model.safetensors").is_file() and (path / "chat_template.jinja").is_file()
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["parameters"] == 134_515_008 and len(manifest["source_sha256"]) == 64
    again = graft("models", "prepare")
    assert again.returncode == 0 and "already prepared" in again.stderr
    listed = json.loads(graft("models", "list", "--json").stdout)
    assert listed[0]["ready"] is True and listed[0]["path"] == str(path)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0][ids["input_ids"].shape[1]:])


def test_paraphrase_is_matched_by_meaning(embedder):
    from graftlm.advisor import Advisor

    advice = Advisor(embedder).advise("The figures we rely on shift from one week to the next.")
    fresh = next(s for s in advice.signals if s.id == "fresh_knowledge")
    assert fresh.method == "meaning" and fresh.similarity >= 0.48
    assert advice.recommendation == "rag"
    lexical = Advisor(None).advise("The figures we rely on shift from one week to the next.")
    assert lexical.recommendation == "prompting"  # wording alone misses it


def test_accuracy_on_the_development_cases(embedder):
    sys.path.insert(0, str(BENCH))
    from advisor_accuracy import evaluate, load_cases

    from graftlm.advisor import Advisor

    cases = load_cases()
    result = evaluate(Advisor(embedder), {k: cases[k] for k in ("dev", "val")})
    for split in ("dev", "val"):
        assert result["splits"][split]["top1"] >= 0.9, result["misses"]


def test_cli_advise_with_the_real_embedder(tmp_path):
    # A process of its own: the console command as a user runs it, text on stdin.
    result = graft("advise", "--json", input="Our price sheet is reissued every Monday and reps "
                   "ask about it all day.", home=str(tmp_path), fresh=True)
    assert result.returncode == 0, result.stderr
    advice = json.loads(result.stdout)
    assert advice["semantic"] is True and advice["recommendation"] == "rag"
    # the shipped learned reader reads the whole description and joins the scores
    reading = next(r for r in advice["rules"] if r["id"] == "learned_reading")
    assert "labelled task descriptions" in reading["note"] and reading["effects"]["rag"] > 0
    lexical = json.loads(graft("advise", "--json", "--lexical", input="Our price sheet is "
                               "reissued every Monday.", home=str(tmp_path)).stdout)
    assert all(r["id"] != "learned_reading" for r in lexical["rules"])


def test_the_advisor_with_its_reader_on_every_case_set(embedder):
    """The signal table and the reader have both learned from every set, so this only says
    the fixes and the fit hold; the held-out figures are the first runs in the benchmark."""
    sys.path.insert(0, str(BENCH))
    from advisor_accuracy import NEVER_FIT, WRITTEN, evaluate, load_cases

    from graftlm.advisor import Advisor
    from graftlm.advisor.reader import load_reader

    cases = load_cases()
    # every other case of each set: the floors below hold on either half, in half the time
    fitted = {k: v[::2] for k, v in cases.items() if k not in NEVER_FIT}
    result = evaluate(Advisor(embedder, reader=load_reader(embedder)), fitted)
    for split, row in result["splits"].items():
        # the written sets are held to 95%; the real posts, noisier and fitted on with the
        # rest, to 80% (the held-out real posts are the benchmark's figure, not a test's)
        floor = 0.95 if split in WRITTEN else 0.8
        assert row["top1"] >= floor, (split, row, result["misses"])


def test_the_light_encoder_gives_the_same_advice_on_every_case(embedder, tmp_path):
    """graft advise embeds with numpy (no torch import); over the labelled descriptions its
    advice must equal the sentence-transformers path's: recommendation, signals, scores."""
    sys.path.insert(0, str(BENCH))
    from advisor_accuracy import load_cases

    from graftlm.advisor import Advisor
    from graftlm.advisor.reader import load_reader
    from graftlm.core.embedder import load_embedder
    from graftlm.core.numpy_embedder import NumpyBertEmbedder
    from graftlm.core.settings import ModelSettings

    light = load_embedder(ModelSettings(), light=True)
    assert isinstance(light, NumpyBertEmbedder) and light.name == embedder.name
    full = Advisor(embedder, reader=load_reader(embedder))
    fast = Advisor(light, reader=load_reader(light), cache=tmp_path)
    for rows in load_cases().values():
        for case in rows[::8]:  # an eighth of each set: 137 descriptions, ~25 s
            a, b = full.advise(case["description"]), fast.advise(case["description"])
            assert a.recommendation == b.recommendation, case["id"]
            assert [(s.id, s.method) for s in a.signals] == [(s.id, s.method) for s in b.signals]
            for x, y in zip(a.ranking, b.ranking, strict=True):
                assert x.strategy == y.strategy and abs(x.score - y.score) < 2e-3, case["id"]


def test_a_cold_advise_imports_no_torch(tmp_path):
    code = ("import sys; from graftlm.cli import main; sys.argv = ['graft', 'advise', '--json', "
            "'Staff ask about our handbook, revised monthly.']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
            "if m in sys.modules), file=sys.stderr)")
    import os
    import subprocess

    env = {**os.environ, "GRAFT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert json.loads(out.stdout)["recommendation"] == "rag", out.stderr
    assert out.stderr.strip().splitlines()[-1] == "[]"
    assert list((tmp_path / "cache").glob("prototypes-*.npy"))  # the next call reads them


def test_a_command_that_needs_the_base_model_prepares_it_on_first_use(tmp_path):
    data = Path(__file__).resolve().parents[2] / "examples" / "train" / "support_tickets.jsonl"
    # Fresh processes: first use is a process's first use (and it reports through logging).
    first = graft("train", "--check", str(data), home=str(tmp_path), fresh=True)
    assert first.returncode == 0, first.stderr
    assert "first use of SmolLM2-135M-Instruct: preparing it once" in first.stderr
    assert "prepared SmolLM2-135M-Instruct" in first.stderr
    assert (tmp_path / "models").is_dir()
    again = graft("train", "--check", str(data), home=str(tmp_path), fresh=True)
    assert again.returncode == 0 and "first use" not in again.stderr
