import pytest

from graftlm.advisor.quantities import corpus_tokens, find_quantities


@pytest.mark.parametrize("text, value, what", [
    ("We have 3,000 approved emails.", 3000, "examples"),
    ("about two hundred labelled tickets", 200, "examples"),
    ("12k rows of labelled data", 12_000, "examples"),
    ("A dozen samples is all we have", 12, "examples"),
    ("I can write up five examples", 5, "examples"),
    ("twenty-five examples", 25, "examples"),
    ("several thousand before/after notes", 4000, "examples"),
    ("1.5 million annotated sequences", 1_500_000, "examples"),
    ("Six hundred NDAs are annotated", 600, "examples"),
    ("the 4,000 contracts we hold", 4000, "documents"),
    ("roughly 2B tokens of notebooks", 2e9, "corpus"),
    ("tens of billions of tokens of telemetry", 3e10, "corpus"),
    ("a billion-token monolingual corpus", 1e9, "corpus"),
    ("maybe 40 app-store reviews a day", 40, "traffic"),
    ("millions of calls a month", 3e6, "traffic"),
    # any plural the user says they hold counts examples: "we've got 900 playlists"
    ("we've got about 900 playlists our curators built", 900, "examples"),
    ("they sent me 6 RFQs already answered", 6, "examples"),
    ("I did seven by hand", 7, "examples"),
    ("350GB of firmware images", 350, "corpus"),
    ("40 million pages of scanned parish registers", 4e7, "corpus"),
    ("we hold 9 500 corrected subtitle pairs", 9500, "examples"),
    ("three hundred-odd signed-off replies", 300, "examples"),
    ("about 60,000 digitised ledger entries", 60_000, "documents"),
    # who made them says they are worked examples: "800 analyst-made abstracts"
    ("some 1,200 engineer-written summaries", 1200, "examples"),
    ("roughly 90 clinician-authored discharge letters", 90, "examples"),
    ("a dozen filled-in entries", 12, "examples"),
    ("3,000 lines of it", 3000, "corpus"),
    ("Here are 6 from the spring catalogue", 6, "examples"),
    ("I can send 4 examples. We get 30 a week.", 4, "examples"),
    ("about 200 reviews a season", 200, "traffic"),
])
def test_counts_and_what_they_count(text, value, what):
    found = find_quantities(text)
    assert [(q.value, q.what) for q in found] == [(value, what)]
    assert text[found[0].start:found[0].end] == found[0].text


@pytest.mark.parametrize("text", [
    "Score messages on our 1–3 callback scale (3 = call back same day).",
    "in two or three lines for the morning read",
    "one per line",
    "Convert them to ISO 8601 intervals",
    "a 300-page employee handbook",
    "over the last two years",
    # people, places and labels are not examples, nor the shape of the output
    "we have 35 branches and 12 product lines",
    "we have 400 stations",
    "generate 10 quiz questions for each chapter",
    # the input itself, and the work still to do, are not examples
    "Summarise these 12 board papers",
    "roughly 900 invoices left to process",
])
def test_numbers_that_count_no_data(text):
    assert find_quantities(text) == []


def test_unlabelled_data_is_marked():
    (q,) = find_quantities("We have 20,000 old emails but nobody ever labelled them.")
    assert q.what == "examples" and q.unlabelled


def test_corpus_units_convert_to_tokens():
    (q,) = find_quantities("hundreds of gigabytes of case law")
    assert corpus_tokens(q) > 1e10


def test_glued_units_and_pages_convert_to_tokens():
    (gb,) = find_quantities("350GB of firmware dumps")
    assert gb.text == "350GB" and corpus_tokens(gb) == 350 * 2.5e8
    (pages,) = find_quantities("40 million pages of parish registers")
    assert corpus_tokens(pages) == 4e7 * 500


def test_examples_the_user_rules_out_are_unlabelled():
    found = find_quantities("We hold 80,000 old invoices but none of them are coded; "
                            "I can hand-code fifteen myself.")
    assert [(q.value, q.unlabelled) for q in found] == [(80_000, True), (15, False)]


def test_a_section_number_counts_nothing():
    found = find_quantities("2.1 Scope\n3.4 Responses shall be short.\n1.5 million annotated rows")
    assert [q.value for q in found] == [1_500_000]


def test_no_labels_said_in_a_sentence_of_its_own():
    (q,) = find_quantities("Some 900 survey comments came in. Nothing is labelled yet.")
    assert q.unlabelled
    (q,) = find_quantities("We have 900 labelled comments. Nothing else is labelled yet.")
    assert not q.unlabelled


def test_a_count_set_aside_is_dismissed():
    (q,) = find_quantities("There are 6 TB of scans on the NAS, but ignore those; it is general.")
    assert q.dismissed
    (q,) = find_quantities("We had 20,000 tagged emails, but with the old category tree, so no use.")
    assert q.dismissed
