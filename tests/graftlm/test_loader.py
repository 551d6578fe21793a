import pytest
import torch

from graftlm.core.errors import BackendUnavailableError
from graftlm.core.loader import device_and_dtype, load_pretrained
from tests.conftest import save_tiny_base


def test_cpu_runs_float32_and_cuda_bfloat16():
    assert device_and_dtype("cpu") == ("cpu", torch.float32)
    assert device_and_dtype("cuda:0") == ("cuda:0", torch.bfloat16)


def test_load_pretrained_for_inference_and_training(tmp_path):
    path = save_tiny_base(tmp_path / "base")
    model, tokenizer = load_pretrained(path, device="cpu")
    assert not model.training and model.dtype == torch.float32 and tokenizer is not None
    trainable, _ = load_pretrained(path, device="cpu", for_training=True)
    assert trainable.config.use_cache is False


def test_four_bit_needs_a_gpu(tmp_path):
    with pytest.raises(BackendUnavailableError, match="needs a CUDA GPU"):
        load_pretrained(save_tiny_base(tmp_path / "base"), device="cpu", four_bit=True)
