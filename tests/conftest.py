"""Shared fixtures: an isolated workspace and environment for every test."""

from __future__ import annotations

import os

import pytest

# Captured before any test clears GRAFT_*: end-to-end tests reuse one prepared model across runs.
SHARED_HOME = os.environ.get("GRAFT_HOME") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "graft-home")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Each test gets its own GRAFT_HOME and working directory, and no stray GRAFT_* settings."""
    for key in list(os.environ):
        if key.startswith("GRAFT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GRAFT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


class WordEmbedder:
    """A deterministic bag-of-words embedder: texts sharing words are similar. No model needed."""

    name = "fake-words"
    dim = 256

    def count_tokens(self, text):
        return len(text.split())

    def embed(self, texts):
        import hashlib

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                word = word.strip(".,;:!?'\"")
                if len(word) > 3:
                    h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                    out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


@pytest.fixture
def word_embedder():
    return WordEmbedder()
