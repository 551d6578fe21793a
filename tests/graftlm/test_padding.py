from types import SimpleNamespace

from graftlm.core.padding import left_pad, pad_id


def test_left_pad_right_aligns_rows_and_masks_the_fill():
    ids, mask = left_pad([[5, 6, 7], [8], []], pad=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8], [0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 0]]


def test_pad_id_falls_back_to_end_of_sequence():
    assert pad_id(SimpleNamespace(pad_token_id=3, eos_token_id=9)) == 3
    assert pad_id(SimpleNamespace(pad_token_id=None, eos_token_id=9)) == 9
