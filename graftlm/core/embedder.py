"""Sentence embedders: a one-method protocol and the sentence-transformers implementation.

The advisor uses an embedder to match clauses by meaning; the retrieval stage embeds chunks with
the same protocol. Vectors are float32 and unit length, so a dot product is a cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

from graftlm.core.errors import BackendUnavailableError, ConfigError
from graftlm.core.models import embedder_location
from graftlm.core.numpy_embedder import NumpyBertEmbedder, supports
from graftlm.core.onnx_embedder import OnnxBertEmbedder
from graftlm.core.settings import ModelSettings


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of dimension :attr:`dim`."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (or the given device)."""

    backend = "torch"

    def __init__(self, location: str, *, name: str | None = None, device: str = "cpu",
                 batch_size: int = 64):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BackendUnavailableError(
                f"sentence-transformers is not importable ({exc}); pip install sentence-transformers"
            ) from None
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a progress bar per load is noise in a CLI
        self._model = SentenceTransformer(location, device=device)
        self.name = name or location
        self.dim = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in this model's tokens (special tokens excluded)."""
        return len(self._model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= self.batch_size:
            return self._embed_batch(texts)
        vecs = self._model.encode(list(texts), batch_size=self.batch_size,
                                  normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        # One forward pass without encode()'s batching machinery: the same vectors, about 1.5 ms
        # less per call, which is most of the overhead of embedding a single query.
        import torch

        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
        with torch.inference_mode():
            features = prepare(list(texts))
            out = self._model.forward(features)["sentence_embedding"]
            out = torch.nn.functional.normalize(out.float(), dim=-1)
        return out.numpy().astype(np.float32, copy=False)


@lru_cache(maxsize=4)
def load_embedder(settings: ModelSettings, *, light: bool = False) -> Embedder:
    """The configured embedder, loaded once per process.

    ``light`` asks for the numpy encoder (:mod:`graftlm.core.numpy_embedder`: no torch import, the
    same vectors) where the model is one it can run; otherwise ``models.embedder_backend``
    chooses: sentence-transformers, or ONNX Runtime (:mod:`graftlm.core.onnx_embedder`).
    """
    location = embedder_location(settings)
    name = "all-MiniLM-L6-v2" if settings.embedder == "embedded" else settings.embedder

    if light and supports(location):
        return NumpyBertEmbedder(location, name=name)
    if settings.embedder_backend != "torch":
        if not supports(location):
            raise ConfigError(f"models.embedder_backend = '{settings.embedder_backend}' runs "
                              f"BERT encoders with mean pooling; {name} is not one. Set it to "
                              "'torch'.")
        return OnnxBertEmbedder(location, int8=settings.embedder_backend == "onnx-int8",
                                name=name)
    return SentenceTransformerEmbedder(location, name=name)
