"""The ONNX Runtime embedder: float32 gives sentence-transformers' vectors, int8 stays close,
and the encoder is exported once."""

import numpy as np
import pytest

from tests.graftlm.test_numpy_embedder import save_tiny_sentence_bert

pytest.importorskip("onnxruntime")

TEXTS = ["Staff ask about our handbook", "prices change every week", "tag",
         "the the the the the the the the the the the the the the the the the the the"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_sentence_bert(tmp_path_factory.mktemp("tiny-onnx"))


def reference(location):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(location), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True)


def test_float32_matches_and_int8_stays_close_to_sentence_transformers(tiny, tmp_path):
    from graftlm.core.onnx_embedder import OnnxBertEmbedder

    expected = reference(tiny)
    plain = OnnxBertEmbedder(tiny, name="tiny", cache=tmp_path)
    assert plain.backend == "onnx" and plain.dim == 32
    np.testing.assert_allclose(plain.embed(TEXTS), expected, atol=1e-5)
    int8 = OnnxBertEmbedder(tiny, name="tiny", cache=tmp_path, int8=True)
    got = int8.embed(TEXTS)
    assert int8.backend == "onnx-int8" and got.dtype == np.float32
    assert float((got * expected).sum(axis=1).min()) > 0.97  # cosine to the float32 vectors
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_the_encoder_is_exported_once_per_weights(tiny, tmp_path):
    from graftlm.core.onnx_embedder import OnnxBertEmbedder, exported

    OnnxBertEmbedder(tiny, cache=tmp_path, int8=True)
    files = sorted(p.name for p in tmp_path.glob("onnx/*/*"))
    assert files == ["encoder.int8.onnx", "encoder.onnx"]
    made = {p: p.stat().st_mtime_ns for p in tmp_path.glob("onnx/*/*")}
    assert exported(tiny, int8=True, cache=tmp_path).stat().st_mtime_ns == max(made.values())
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("onnx/*/*")} == made


def test_the_backend_setting_chooses_the_embedder(tiny, tmp_path, monkeypatch):
    from graftlm.core import embedder as embedder_module
    from graftlm.core.errors import ConfigError
    from graftlm.core.settings import ModelSettings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(embedder_module, "embedder_location", lambda settings: str(tiny))
    embedder_module.load_embedder.cache_clear()
    try:
        chosen = {backend: type(embedder_module.load_embedder(
            ModelSettings(embedder_backend=backend))).__name__
            for backend in ("onnx-int8", "onnx", "torch")}
        assert chosen == {"onnx-int8": "OnnxBertEmbedder", "onnx": "OnnxBertEmbedder",
                          "torch": "SentenceTransformerEmbedder"}
        assert (tmp_path / "graftlm" / "onnx").is_dir()  # the user cache
        cls_pooled = save_tiny_sentence_bert(tmp_path / "cls", pooling="cls")
        monkeypatch.setattr(embedder_module, "embedder_location", lambda s: str(cls_pooled))
        embedder_module.load_embedder.cache_clear()
        with pytest.raises(ConfigError, match="BERT encoders with mean pooling"):
            embedder_module.load_embedder(ModelSettings(embedder_backend="onnx"))
    finally:
        embedder_module.load_embedder.cache_clear()


def test_quantizing_leaves_the_root_logger_as_it_was(tiny, tmp_path):
    import logging

    from graftlm.core.onnx_embedder import exported

    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    exported(tiny, int8=True, cache=tmp_path)
    assert (root.handlers, root.level) == before
