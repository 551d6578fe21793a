import numpy as np
import pytest

from graftlm.advisor.catalog import CATALOG
from graftlm.advisor.signals import SignalDetector, SignalSpec, split_clauses


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
    # live status is knowledge that changes, said without a schedule
    ("Guests ask which lifts are closed right now.", "fresh_knowledge", None),
    ("Drivers want the next available charging slot.", "fresh_knowledge", None),
    ("The price board syncs every 5 minutes from the till.", "fresh_knowledge", None),
    ("Quotes must use the client's current positions.", "fresh_knowledge", None),
    ("Order status updates live as parcels are scanned.", "fresh_knowledge", None),
    ("The code list hasn't changed since 2019.", "static_knowledge", "fresh_knowledge"),
    # general world knowledge needs no documents
    ("Just general science questions from visitors, nothing about our museum.",
     "no_knowledge_needed", None),
    # raw signals and private encodings are new inputs
    ("It must take raw accelerometer readings from the wristband.", "new_language_or_modality",
     None),
    ("Boards are stored in our own move notation with custom tokens.",
     "new_language_or_modality", None),
    ("Current models can't really read it: the ledgers are in Middle English.",
     "new_language_or_modality", None),
    ("We want a model that reads our ladder-logic notation natively.",
     "new_language_or_modality", None),
    ("Rates must be tonight's, from the booking system.", "fresh_knowledge", None),
    ("It's whatever the rota spreadsheet says this morning.", "fresh_knowledge", None),
    ("Dispatchers ask who's on call for the north depot.", "fresh_knowledge", None),
    ("Agents must walk callers through our boiler reset procedure.", "procedure", None),
    ("Answer only about the transcript in front of them.", "no_knowledge_needed", None),
    ("Plain-language explanations of general concepts, not client-specific.",
     "no_knowledge_needed", None),
    ("Our dispatch runs on an in-house PLC language with its own syntax.",
     "new_language_or_modality", None),
    ("Engineers query the Authority's signalling standards.", "private_documents", None),
    ("Each reply must give the volume and page.", "grounding", None),
    ("Tariffs are reissued on a rolling basis.", "fresh_knowledge", None),
    ("Rank each review positive / negative.", "generic_scheme", None),
    ("Fees are set afresh each budget cycle.", "fresh_knowledge", None),
    ("Zones get redrawn now and then.", "fresh_knowledge", None),
    ("Loans sync from the catalogue every quarter hour.", "fresh_knowledge", None),
    ("Retrieval finds the right page, but the model ignores it.", "context_misuse", None),
    ("Notices must use the exact union-agreed wording.", "style_voice", None),
    ("It reads chromatograms serialised as token sequences.", "new_language_or_modality", None),
    ("Recall notices keep arriving from the regulator.", "fresh_knowledge", None),
    ("Fares change whenever a route is added.", "fresh_knowledge", None),
    ("Each answer must have the notice number referenced in the reply.", "grounding", None),
    ("The model must read raw protein sequences.", "new_language_or_modality", None),
    ("The pilot kept ignoring the retrieved tariff rows.", "context_misuse", None),
    ("The replies don't sound like us.", "style_voice", "no_style"),
    # heldout9/heldout10 classes: a growing collection, several things live at once, a
    # reference back to the source, an N-field record, a query language, a stable syntax
    ("The recipe archive grows every week.", "fresh_knowledge", "static_knowledge"),
    ("Quotes draw on live room, seat and cabin availability.", "fresh_knowledge", None),
    ("Each figure carries a reference to the page it was read from.", "grounding", None),
    ("Fill a 25-column record per shipment.", "output_format", None),
    ("Rules are written in our firewall vendor's own DSL.", "output_format", None),
    ("The query syntax itself is stable.", "static_knowledge", "fresh_knowledge"),
    # the database a generated query runs against is the output's target, not a collection
    ("Turn plain questions into SQL to run against the billing database.", "output_format",
     "private_documents"),
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


@pytest.mark.parametrize("text, absent", [
    # the format of a file the user receives is not a format the output must have
    ("Finance exports a CSV of refunds every Friday; agents ask why a refund was held.",
     "output_format"),
    # the system being replaced is not knowledge that changes
    ("Our existing regex rules miss half the fraud reports.", "fresh_knowledge"),
    # "a short story extract" is a noun, not an extraction task
    ("Pupils paste a short story extract, and the bot asks them questions.", "narrow_task"),
    # a citation style is a format, not a demand for sources
    ("Convert reading lists into the journal's citation style.", "grounding"),
    ("Prices come from the quote sheet we paste in.", "grounding"),
    ("Our nurses write shift notes; draft them from the checklist.", "private_documents"),
    ("Turn each note into rows against our stock-records schema.", "private_documents"),
    ("Tone and layout of replies are at the vendor's discretion.", "style_voice"),
    ("Ships reporting daily send noon reports.", "fresh_knowledge"),
    ("Staff paste a summary of the incident and want a ticket title.", "general_task"),
    ("A style guide with two examples is the only documentation involved.", "private_documents"),
    ("Flag passive voice in each chapter.", "style_voice"),
    ("Read the firmware directly, not the decompiled source.", "no_citations"),
    ("Our wardens jot notes after each patrol; tidy them.", "private_documents"),
    ("Sort these 30 labels into the two bins.", "custom_scheme"),
])
def test_cues_that_are_not_signals(lexical, text, absent):
    assert absent not in signals(lexical, text)


def test_a_requirement_the_input_fails_is_not_waived(lexical):
    found = signals(lexical, "Reports bounce because they aren't in the approved template.")
    assert "output_format" in found and "no_format" not in found
    found = signals(lexical, "Replies don't need any particular format.")
    assert "no_format" in found and "output_format" not in found


def test_what_a_retraction_withdraws_is_dropped(lexical):
    text = "We meant to fine-tune on 12k chats. Actually scratch that: just detect the language."
    hits, quantities = lexical.detect(text)
    assert quantities == [] and "general_task" in {h.signal for h in hits}


def test_prototype_vectors_are_cached_per_embedder_and_prototype_set(tmp_path, word_embedder):
    calls = []

    class Counting:
        name, dim = word_embedder.name, word_embedder.dim

        def embed(self, texts):
            calls.append(len(texts))
            return word_embedder.embed(texts)

    first = SignalDetector(CATALOG, Counting(), cache=tmp_path)
    assert len(calls) == 1 and len(list(tmp_path.glob("prototypes-*.npy"))) == 1
    second = SignalDetector(CATALOG, Counting(), cache=tmp_path)
    assert len(calls) == 1  # read back, not embedded again
    np.testing.assert_array_equal(first._proto_vecs, second._proto_vecs)

    # another prototype set (an edited catalog) gets its own file
    spec = SignalSpec("penguins", "penguins", "knowledge", {}, prototypes=("penguins juggle",))
    SignalDetector([spec], Counting(), cache=tmp_path)
    assert len(calls) == 2 and len(list(tmp_path.glob("prototypes-*.npy"))) == 2

    # a damaged file is embedded again and rewritten
    for path in tmp_path.glob("prototypes-*.npy"):
        path.write_bytes(b"not an array")
    again = SignalDetector(CATALOG, Counting(), cache=tmp_path)
    assert len(calls) == 3
    np.testing.assert_array_equal(again._proto_vecs, first._proto_vecs)
    text = "The figures we rely on shift weekly."
    assert second.detect(text) == first.detect(text)


def test_an_unwritable_cache_costs_only_the_embedding(tmp_path, word_embedder):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    detector = SignalDetector(CATALOG, word_embedder, cache=blocked / "cache")
    assert detector._proto_vecs.shape[1] == word_embedder.dim
