"""A BERT sentence encoder in numpy: the embedded all-MiniLM-L6-v2 without importing torch.

``graft advise`` embeds a handful of short clauses. Through sentence-transformers that costs
importing torch, transformers and sentence-transformers (seconds) before the first vector; this
module reads the same safetensors weights with ``safetensors.numpy``, tokenizes with the Rust
``tokenizers`` library, and runs the encoder's forward pass as a few matrix products. The
vectors match sentence-transformers' to float32 rounding (a test holds the advice of both equal
over every labelled description in ``benchmarks/``).

Supported: BERT encoders whose sentence-transformers modules are mean pooling then normalisation,
as all-MiniLM-L6-v2 is. :func:`supports` says whether a model directory qualifies; anything else
goes through :class:`graftlm.core.embedder.SentenceTransformerEmbedder`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np



def supports(location: str | Path) -> bool:
    """Whether ``location`` holds a BERT encoder with mean pooling and normalisation."""
    root = Path(location)
    try:
        config = json.loads((root / "config.json").read_text())
        modules = json.loads((root / "modules.json").read_text())
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((root / pooling_dir / "config.json").read_text())
    except (OSError, ValueError, StopIteration, KeyError):
        return False
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    # older sentence-transformers write one flag per mode, newer ones "pooling_mode": "mean"
    flags = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True}
    mean = pooling.get("pooling_mode") == "mean" if "pooling_mode" in pooling else \
        flags == {"pooling_mode_mean_tokens"}
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and kinds == ["Transformer", "Pooling", "Normalize"] and mean
            and (root / "model.safetensors").is_file() and (root / "tokenizer.json").is_file())


def _max_length(root: Path, config: dict) -> int:
    """Where sentence-transformers truncates: ``max_seq_length`` in sentence_bert_config.json
    (older saves), else the tokenizer's ``model_max_length`` (newer ones), else the positions."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"),
                      ("tokenizer_config.json", "model_max_length")):
        try:
            value = json.loads((root / name).read_text()).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and value > 0:
            return min(value, int(config.get("max_position_embeddings", value)))
    return int(config.get("max_position_embeddings", 512))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32's resolution of GELU's output.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                        + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


class BertPooling(ABC):
    """Tokenization, mean pooling and normalisation of a sentence-transformers BERT directory;
    subclasses run the encoder (:meth:`_encode`).

    Args:
        location: a sentence-transformers model directory (see :func:`supports`).
        name: the embedder's name, as the torch implementation reports it.
        max_length: tokens per text; by default the directory's ``max_seq_length``, as
            sentence-transformers truncates (256 for all-MiniLM-L6-v2).
    """

    def __init__(self, location: str | Path, *, name: str | None = None,
                 max_length: int | None = None):
        from tokenizers import Tokenizer

        root = Path(location)
        config = json.loads((root / "config.json").read_text())
        self.name = name or str(location)
        self.dim = int(config["hidden_size"])
        self._tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_length or _max_length(root, config))
        self._tokenizer.no_padding()

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in this model's tokens (special tokens excluded)."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1.0
        hidden = self._encode(ids, mask)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)[
            :, None]
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32, copy=False)

    @abstractmethod
    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Final hidden states (batch, tokens, dim) of token ``ids`` under ``mask``."""


class NumpyBertEmbedder(BertPooling):
    """Satisfies :class:`graftlm.core.embedder.Embedder` for a BERT encoder with mean pooling; the
    encoder runs in numpy. Arguments as :class:`BertPooling`'s."""

    backend = "numpy"

    def __init__(self, location: str | Path, *, name: str | None = None,
                 max_length: int | None = None):
        from safetensors.numpy import load_file

        super().__init__(location, name=name, max_length=max_length)
        config = json.loads((Path(location) / "config.json").read_text())
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self._w = {k: v.astype(np.float32, copy=False)
                   for k, v in load_file(str(Path(location) / "model.safetensors")).items()}

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, eps = self._w, self._eps
        batch, length = ids.shape
        heads, size = self._heads, self.dim // self._heads
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0]).reshape(batch * length, self.dim)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        # padding keys get a large negative score, so no real token attends to them
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(size))

        def heads_of(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

        for i in range(self._layers):
            p = f"encoder.layer.{i}."

            def linear(t: np.ndarray, name: str, p: str = p) -> np.ndarray:
                # (tokens, in) @ (out, in).T: one BLAS call over every token of the batch
                return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = heads_of(linear(x, "attention.self.query"))
            k = heads_of(linear(x, "attention.self.key"))
            v = heads_of(linear(x, "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.dim)
            x = _layer_norm(linear(context, "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], eps)
            inner = _gelu(linear(x, "intermediate.dense"))
            x = _layer_norm(linear(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], eps)
        return x.reshape(batch, length, self.dim)
