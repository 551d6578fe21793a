"""Few-shot demonstrations and where they go."""

from graftlm.advisor.shots import demonstrations, with_shots
from tests.advisor.conftest import ROWS, examples_of


def test_demonstrations_cover_every_label_before_repeating_one():
    train = examples_of(ROWS * 5)
    shots = demonstrations(train, 6, seed=0, label_like=True)
    assert len(shots) == 6
    assert {s.target for s in shots} == {label for _, label in ROWS}
    assert len(demonstrations(train, 8, seed=0, label_like=False)) == 3  # long answers: few


def test_shots_go_between_the_system_message_and_the_question():
    example, shot = examples_of(ROWS[:2])
    joined = with_shots(example, [shot])
    assert [r for r, _ in joined.messages] == ["system", "user", "assistant", "user",
                                               "assistant"]
    assert joined.messages[1:3] == shot.messages[1:] and joined.target == example.target
