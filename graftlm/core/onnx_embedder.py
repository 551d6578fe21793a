"""A BERT sentence embedder through ONNX Runtime, with int8 weights if asked: the fast path for
building indexes on a CPU.

Index builds are bound by the embedder's forward pass. sentence-transformers' own ONNX and
OpenVINO backends go through ``optimum``, whose releases pin transformers below the version
graftlm runs on, so graftlm exports the encoder itself: once per embedder, with
``torch.onnx.export``, into the user cache (``$XDG_CACHE_HOME/graftlm/onnx/<weights hash>/``,
shared by workspaces since it depends only on the weights), and for
``onnx-int8`` quantizes the linear layers' weights to int8 per output channel with ONNX
Runtime's dynamic quantization (activations are quantized per batch at run time). One scale per
channel matters: with one per tensor, nDCG@10 on the SQuAD Notre Dame corpus fell by several
hundredths; per channel it stays within 0.004 of float32 there and on PubMedQA
(rag_bench.py). Tokenization, mean pooling and normalisation are
:class:`~graftlm.core.numpy_embedder.BertPooling`'s, so only the encoder's arithmetic differs from
sentence-transformers'.

What each backend costs and keeps is measured by ``benchmarks/rag_bench.py``: build
throughput and nDCG@10 on two corpora, side by side.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from graftlm.core.errors import BackendUnavailableError
from graftlm.core.numpy_embedder import BertPooling

BACKENDS = ("onnx", "onnx-int8")


def _weights_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        with open(root / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graftlm"


def exported(location: str | Path, *, int8: bool, cache: Path | None = None) -> Path:
    """The ONNX file of the encoder at ``location`` (int8 weights if ``int8``), made once
    under ``cache`` (default: :func:`user_cache`)."""
    root = Path(location)
    folder = Path(cache or user_cache()) / "onnx" / _weights_hash(root)
    plain, quantized = folder / "encoder.onnx", folder / "encoder.int8.onnx"
    if not plain.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _export(root, plain)
    if int8 and not quantized.is_file():
        staging = quantized.with_suffix(f".{os.getpid()}.partial")
        with _root_logger_untouched():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(plain), str(staging), weight_type=QuantType.QInt8,
                             per_channel=True)
        staging.replace(quantized)
    return quantized if int8 else plain


@contextmanager
def _root_logger_untouched():
    """ONNX Runtime's quantization configures the root logger when imported and warns through
    it; a command's output is not the place for either, nor is every library's debug output
    that a configured root logger would let through afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = [logging.NullHandler()]  # makes basicConfig() a no-op meanwhile
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _export(root: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask
                              ).last_hidden_state

    model = AutoModel.from_pretrained(root, attn_implementation="eager").eval()
    example = torch.ones((2, 16), dtype=torch.long)
    staging = out.with_suffix(f".{os.getpid()}.partial")
    dynamic = {0: "batch", 1: "tokens"}
    # The tracer's notes on the graph (constant branches, index lowering) are about the export,
    # not for the user of `graft index build`; the test checks the vectors instead.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(model), (example, example), str(staging),
                          input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                          dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic,
                                        "hidden": dynamic},
                          opset_version=17, dynamo=False)
    staging.replace(out)


class OnnxBertEmbedder(BertPooling):
    """Satisfies :class:`graftlm.core.embedder.Embedder`; the encoder runs in ONNX Runtime.

    Args:
        location: a sentence-transformers directory of a BERT with mean pooling.
        int8: int8 weights (``onnx-int8``) instead of float32 (``onnx``).
        name: the embedder's name.
        cache: where the exported encoder is kept (default: :func:`user_cache`).
    """

    def __init__(self, location: str | Path, *, int8: bool = False, name: str | None = None,
                 cache: Path | None = None):
        try:
            import onnxruntime
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BackendUnavailableError(
                f"onnxruntime is not importable ({exc}); pip install onnxruntime, or set "
                "models.embedder_backend = 'torch'.") from None
        super().__init__(location, name=name)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        self.backend = BACKENDS[int8]
        self._session = onnxruntime.InferenceSession(
            str(exported(location, int8=int8, cache=cache)), options,
            providers=["CPUExecutionProvider"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One text per run. On a CPU that is faster than batches, which compute their padding
        (480 PubMedQA chunks, int8: 1.2x the chunks/s of length-sorted batches of 32;
        float32 gained too), and it makes each vector independent of what it was batched with: int8
        activations are quantized with one scale per run, so in a batch the other texts moved
        a vector by up to 0.03 — a build on Ray, or an update, would not match a full local
        build."""
        one = super().embed
        return one(texts) if len(texts) <= 1 else np.vstack([one([text]) for text in texts])

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._session.run(None, {"input_ids": ids,
                                        "attention_mask": mask.astype(np.int64)})[0]
