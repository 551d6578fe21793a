import json
import sys

import numpy as np
import pytest

from graftlm.core.numpy_embedder import NumpyBertEmbedder, supports

WORDS = "the a our staff ask about handbook policies prices change every week tag each ticket".split()


def save_tiny_sentence_bert(path, pooling="mean"):
    """A tiny random BERT as a sentence-transformers directory: transformer, pooling, normalise."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    core = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]",
                                        pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                        mask_token="[MASK]")
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=64,
                                max_position_embeddings=64), add_pooling_layer=False)
    (path / "hf").mkdir(parents=True)
    bert.save_pretrained(path / "hf")
    tokenizer.save_pretrained(path / "hf")
    word = models.Transformer(str(path / "hf"), max_seq_length=16)
    pool = models.Pooling(word.get_embedding_dimension(), pooling_mode=pooling)
    SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu").save(
        str(path / "st"))
    return path / "st"


@pytest.fixture(scope="module")
def tiny_sentence_bert(tmp_path_factory):
    return save_tiny_sentence_bert(tmp_path_factory.mktemp("tiny-st"))


def test_same_vectors_as_sentence_transformers(tiny_sentence_bert):
    from sentence_transformers import SentenceTransformer

    texts = ["Staff ask about our handbook", "prices change every week", "tag",
             "the the the the the the the the the the the the the the the the the the the"]
    reference = SentenceTransformer(str(tiny_sentence_bert), device="cpu").encode(
        texts, normalize_embeddings=True, convert_to_numpy=True)
    light = NumpyBertEmbedder(tiny_sentence_bert, name="tiny")  # max_seq_length 16, as saved
    got = light.embed(texts)  # one padded batch: lengths differ, the longest is truncated
    assert got.dtype == np.float32 and got.shape == (4, 32) and light.dim == 32
    np.testing.assert_allclose(got, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(light.embed(texts[:1])[0], got[0], atol=1e-6)  # padding is inert
    assert light.embed([]).shape == (0, 32)
    assert light.count_tokens("staff ask about prices") == 4


def test_supports_only_bert_with_mean_pooling(tmp_path, tiny_sentence_bert):
    assert supports(tiny_sentence_bert)
    cls_pooled = save_tiny_sentence_bert(tmp_path / "cls", pooling="cls")
    assert not supports(cls_pooled)
    assert not supports(tmp_path / "missing")
    config = json.loads((tiny_sentence_bert / "config.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    for f in tiny_sentence_bert.rglob("*"):
        if f.is_file():
            (other / f.relative_to(tiny_sentence_bert)).parent.mkdir(parents=True, exist_ok=True)
            (other / f.relative_to(tiny_sentence_bert)).write_bytes(f.read_bytes())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    assert not supports(other)


def test_the_light_encoder_does_not_import_torch(tiny_sentence_bert):
    import subprocess

    code = (f"from graftlm.core.numpy_embedder import NumpyBertEmbedder; import sys; "
            f"NumpyBertEmbedder({str(tiny_sentence_bert)!r}).embed(['staff ask']); "
            f"print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
            f"if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
