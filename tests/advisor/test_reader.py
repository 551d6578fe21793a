import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from graftlm.advisor import STRATEGIES, Advisor, Facts
from graftlm.advisor.reader import READER_FILE, WEIGHT, Reader, description_vectors, features, fit, \
    load_reader
from graftlm.advisor.reader import TEMPERATURE as READER_TEMPERATURE
from graftlm.advisor.scoring import softmax

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
STORIES = {
    "rag": ["questions about the handbook wiki pages", "look up policy pages in the wiki",
            "answers from handbook policy pages"],
    "lora": ["write replies in our brand voice tone", "match the brand tone of our writers",
             "replies should sound like our brand voice"],
}


def reader_of(embedder, **kwargs):
    rows, labels = [], []
    for label, texts in STORIES.items():
        for text in texts:
            rows.append(features(description_vectors(embedder, text)))
            labels.append(label)
    return fit(np.vstack(rows), labels, STRATEGIES, embedder.name, **kwargs)


def test_features_are_the_whole_then_the_clause_mean_and_max():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], dtype=np.float32)
    assert features(vectors).tolist() == [1.0, 0.0, 0.25, 0.75, 0.5, 1.0]
    # no clauses: the whole stands in for them
    assert features(vectors[:1]).tolist() == [1.0, 0.0] * 3


def test_a_fitted_reader_reads_new_wording_of_what_it_learned(word_embedder):
    reader = reader_of(word_embedder)
    assert reader.cases == 6 and reader.weights.shape == (6, 3 * word_embedder.dim)
    for text, label in [("staff look up the handbook", "rag"), ("in our brand voice", "lora")]:
        x = features(description_vectors(word_embedder, text))
        p = reader.probabilities(x)
        assert max(p, key=p.get) == label and math.isclose(sum(p.values()), 1.0, rel_tol=1e-6)


def test_stronger_regularisation_gives_flatter_probabilities(word_embedder):
    x = features(description_vectors(word_embedder, "in our brand voice"))
    loose = reader_of(word_embedder, regularisation=10.0).probabilities(x)["lora"]
    tight = reader_of(word_embedder, regularisation=0.01).probabilities(x)["lora"]
    assert loose > tight > 1 / 6


def test_effects_are_weighted_log_ratios_to_chance(word_embedder):
    reader = reader_of(word_embedder)
    p = {"prompting": 0.5, "few_shot": 1 / 6, "rag": 0.2, "lora": 0.1, "full_ft": 0.02,
         "hybrid": 0.0133}
    effects = reader.effects(p)
    assert effects["few_shot"] == 0.0  # as likely as chance: no push
    assert effects["prompting"] == pytest.approx(WEIGHT * math.log(3), abs=1e-3)
    assert effects["full_ft"] < effects["lora"] < 0 < effects["rag"]


def test_save_and_load_round_trip(tmp_path, word_embedder):
    reader = reader_of(word_embedder)
    reader.save(tmp_path / "r.npz", {"sets": ["toy"]})
    back = Reader.load(tmp_path / "r.npz")
    assert back.strategies == STRATEGIES and back.embedder == "fake-words" and back.cases == 6
    np.testing.assert_array_equal(back.weights, reader.weights)
    assert load_reader(word_embedder, tmp_path / "r.npz") is not None
    assert load_reader(None, tmp_path / "r.npz") is None
    assert load_reader(word_embedder, tmp_path / "missing.npz") is None


def test_a_reader_only_reads_the_embedder_it_was_fitted_with(word_embedder):
    reader = reader_of(word_embedder)

    class Other:
        name, dim = "another-model", 256

    assert reader.fits(word_embedder) and not reader.fits(Other()) and not reader.fits(None)
    with pytest.raises(ValueError, match="fake-words"):
        Advisor(Other(), reader=reader)


def test_the_reading_joins_the_scores_as_a_rule(word_embedder):
    reader = reader_of(word_embedder)
    text = "staff look up the handbook"
    advice = Advisor(word_embedder, reader=reader).advise(text)
    without = Advisor(word_embedder).advise(text)
    rule = next(r for r in advice.rules if r.id == "learned_reading")
    assert "fitted on 6 labelled task descriptions" in rule.note and rule.effects["rag"] > 0
    shift = {s.strategy: s.score for s in advice.ranking}
    base = {s.strategy: s.score for s in without.ranking}
    assert shift["rag"] - base["rag"] == pytest.approx(rule.effects["rag"], abs=2e-3)
    assert all(r.id != "learned_reading" for r in without.rules)
    # a sum with the reader's term is turned into probabilities at the reader's temperature
    expected = softmax(shift, READER_TEMPERATURE)
    for row in advice.ranking:
        assert row.probability == pytest.approx(expected[row.strategy], abs=2e-3)


def test_a_flag_that_corrects_the_text_leaves_the_reading_out(word_embedder):
    advisor = Advisor(word_embedder, reader=reader_of(word_embedder))
    text = "staff look up the handbook; we have 500 labelled examples"
    assert any(r.id == "learned_reading" for r in advisor.advise(text).rules)
    corrected = advisor.advise(text, Facts(examples=0))
    assert all(r.id != "learned_reading" for r in corrected.rules)


def test_the_shipped_reader_was_fitted_on_every_case_set_as_they_are():
    """Editing, adding or removing a case set means refitting:
    python benchmarks/fit_advisor_reader.py"""
    import json
    import sys

    sys.path.insert(0, str(BENCH))
    from advisor_accuracy import FIT_SETS, NEVER_FIT, SPLITS

    with np.load(READER_FILE, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
    assert meta["sets"] == FIT_SETS and not set(NEVER_FIT) & set(meta["sets"])
    digest = hashlib.sha256()
    for name in FIT_SETS:
        digest.update((BENCH / SPLITS[name]).read_bytes())
    assert meta["cases_sha256"] == digest.hexdigest()
    reader = Reader.load()
    assert reader.embedder == "all-MiniLM-L6-v2" and reader.weights.shape == (6, 3 * 384)
    assert reader.strategies == STRATEGIES
