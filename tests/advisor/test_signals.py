import pytest

from advisor.catalog import CATALOG
from advisor.signals import SignalDetector, SignalSpec, split_clauses


@pytest.fixture
def lexical():
    return SignalDetector(CATALOG)


def signals(detector, text):
    hits, _ = detector.detect(text)
    return {h.signal: h for h in hits}


def test_clauses_split_at_sentences_and_contrasts():
    texts = [c.text for c in split_clauses(
        "Answer from our wiki, but no citations needed. It changes weekly — really")]
    assert texts == ["Answer from our wiki", "but no citations needed", "It changes weekly",
                     "really"]


def test_wrapped_lines_do_not_split_a_sentence():
    texts = [c.text for c in split_clauses("Manuals change with every firmware\nrelease.\n\n"
                                           "- one item\n- another item")]
    assert texts == ["Manuals change with every firmware\nrelease", "one item", "another item"]


def test_clause_offsets_point_into_the_text():
    text = "First part; second part, but a third."
    for clause in split_clauses(text):
        assert text[clause.start:clause.end] == clause.text


@pytest.mark.parametrize("text, expected, absent", [
    ("Prices are updated daily.", "fresh_knowledge", "static_knowledge"),
    ("The documents never change.", "static_knowledge", "fresh_knowledge"),
    ("The rate card is revised every Monday.", "fresh_knowledge", "static_knowledge"),
    ("Answers must cite the section they came from.", "grounding", "no_citations"),
    ("No citations needed.", "no_citations", "grounding"),
    ("Citations are not needed.", "no_citations", "grounding"),
    ("Replies should sound like our brand voice.", "style_voice", "no_style"),
    ("No particular tone or persona required.", "no_style", "style_voice"),
    ("Output must be JSON with three fields.", "output_format", "no_format"),
    ("No fixed format.", "no_format", "output_format"),
    ("We don't have any labelled data.", "no_examples", None),
    ("It doesn't need to know anything about our catalogue.", "no_knowledge_needed",
     "private_documents"),
    ("Staff ask about our employee handbook.", "private_documents", None),
    ("Everything is on-prem; data cannot leave our servers.", "privacy", None),
    ("Translate support emails into English.", "general_task", None),
    ("Continue pretraining on our lab notebooks.", "new_language_or_modality", None),
])
def test_wording_and_negation(lexical, text, expected, absent):
    found = signals(lexical, text)
    assert expected in found, found
    if absent:
        assert absent not in found


def test_negation_is_scoped_to_its_clause(lexical):
    found = signals(lexical, "We have no labelled data, but the documents change daily.")
    assert "fresh_knowledge" in found and "no_examples" in found


def test_negated_hit_records_what_it_was(lexical):
    hit = signals(lexical, "The handbook never changes.")["static_knowledge"]
    assert hit.method == "wording" and hit.strength == 1.0


def test_meaning_matches_paraphrases_and_negation(word_embedder):
    spec = SignalSpec("quirky", "a quirky need", "skill", {"lora": 1.0},
                      prototypes=("penguins juggle flaming torches",), negated_as="calm")
    calm = SignalSpec("calm", "calm", "skill", {"prompting": 1.0}, negatable=False)
    detector = SignalDetector([spec, calm], word_embedder, threshold=0.5)
    hits, _ = detector.detect("Our penguins juggle flaming torches nightly.")
    (hit,) = hits
    assert hit.signal == "quirky" and hit.method == "meaning"
    assert hit.similarity >= 0.5 and hit.prototype == "penguins juggle flaming torches"
    assert 0.5 <= hit.strength <= 1.0
    hits, _ = detector.detect("Our penguins never juggle flaming torches.")
    assert [(h.signal, h.negated_from) for h in hits] == [("calm", "quirky")]
    hits, _ = detector.detect("Completely unrelated sentence about spreadsheets.")
    assert hits == []


def test_wording_hit_wins_over_meaning_for_the_same_signal(word_embedder):
    detector = SignalDetector(CATALOG, word_embedder, threshold=0.3)
    hit = signals(detector, "Prices are updated daily.")["fresh_knowledge"]
    assert hit.method == "wording"
