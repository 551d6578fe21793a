"""Retrieval-aware rendering (RAFT): the sources each training example gets."""

import pytest

from graftlm.core.settings import RagSettings
from graftlm.core.workspace import Workspace
from graftlm.rag.index import build_index, load_index
from tests.conftest import WordEmbedder
from graftlm.tuning.data import Example
from graftlm.tuning.raft import render

DOCS = {
    "warranty.md": "warranty coverage lasts two years from purchase date",
    "reset.md": "factory reset needs holding the button fifteen seconds",
    "guest.md": "guest network access expires after twenty four hours",
    # Shares the words of the reset question, so it ranks first for it; the answer is not here.
    "buttons.md": "reset button factory reset button holding factory reset",
}
QUESTIONS = [  # question, answer, gold document
    ("how long does warranty coverage last", "two years", "warranty.md"),
    ("factory reset button holding how long", "fifteen seconds", "reset.md"),
    ("when does guest network access expire", "twenty four hours", "guest.md"),
]
SETTINGS = RagSettings(prompt={"k": 1, "instruction": "copy"})


class Words:
    """A tokenizer whose tokens are words: all :func:`rag.prompt.token_counter` asks of one."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    home = tmp_path_factory.mktemp("raft")
    docs = home / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    workspace = Workspace(home / "home")
    embedder = WordEmbedder()
    build_index(docs, "kb", workspace=workspace, settings=SETTINGS, embedder=embedder)
    return load_index("kb", workspace=workspace, embedder=embedder)


def examples(*, gold=True, repeat=1):
    return [Example((("user", q), ("assistant", a)), line, gold=doc if gold else None)
            for line, (q, a, doc) in enumerate(QUESTIONS * repeat, 1)]


def sources(example):
    """The source paths in an example's rendered prompt."""
    prompt = example.messages[-2][1]
    return {name for name in DOCS if f"] {name}" in prompt}


def test_every_example_gets_its_gold_chunk_even_where_retrieval_misses_it(index):
    rendered = render(examples(), index, SETTINGS, Words())
    assert [sources(e) for e in rendered.examples] == [{"warranty.md"}, {"reset.md"},
                                                        {"guest.md"}]
    # The reset question retrieves buttons.md first: the oracle replaced it.
    assert rendered.gold_added == 1 and rendered.distractor_only == 0
    assert all(e.target in e.messages[-2][1] for e in rendered.examples)
    assert [e.messages[-1] for e in rendered.examples] == [
        ("assistant", a) for _, a, _ in QUESTIONS]


def test_without_gold_names_the_sources_are_what_retrieval_gives(index):
    rendered = render(examples(gold=False), index, SETTINGS, Words())
    assert sources(rendered.examples[1]) == {"buttons.md"} and rendered.gold_added == 0


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 1.0])
def test_the_distractor_share_is_kept_and_the_gold_document_removed(index, share):
    train = examples(repeat=4)
    rendered = render(train, index, SETTINGS, Words(), distractor_share=share, seed=3)
    assert rendered.distractor_only == rendered.gold_removed == round(share * len(train))
    without_gold = [e for e in rendered.examples if e.gold not in sources(e)]
    assert len(without_gold) == rendered.distractor_only
    assert all(sources(e) for e in without_gold), "distractors, not an empty prompt"
    assert all(e.target not in e.messages[-2][1].split("Question:")[0] for e in without_gold)


def test_distractors_come_from_the_training_examples_only(index):
    """With no gold names, a distractor-only example gets another *training* question's chunks:
    the held-out questions (guest network) never shape the training prompts."""
    train = examples(gold=False)[:2]
    rendered = render(train, index, SETTINGS, Words(), distractor_share=1.0)
    assert rendered.distractor_only == 2 and rendered.gold_removed == 0
    seen = set().union(*(sources(e) for e in rendered.examples))
    assert "guest.md" not in seen
    assert sources(rendered.examples[0]) == {"buttons.md"}  # the reset question's top chunk
    assert sources(rendered.examples[1]) == {"warranty.md"}
