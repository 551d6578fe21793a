"""Settings: one pydantic-settings object with a section per stage, and where each value came from.

Values are layered, later winning: the field defaults, a ``graft.toml`` file, ``GRAFT_*``
environment variables (``GRAFT_HOME``, ``GRAFT_ADVISOR__SEMANTIC=false``: sections are joined with a
double underscore), then command-line flags. :func:`load_settings` builds the object once per
process and records, for every field, which layer set it, so ``graft config show`` can say so.

Library functions take the section they need as an argument; nothing outside this module reads
the environment for settings.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from graftlm.core.errors import ConfigError
from graftlm.core.rag_settings import (  # noqa: F401  (re-exported: every section lives here)
    MilvusSettings, PromptSettings, RagSettings, RaySettings)
from graftlm.core.tuning_settings import TuningSettings  # noqa: F401

CONFIG_FILE_NAME = "graft.toml"
ENV_PREFIX = "GRAFT_"


def _default_home() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "graftlm"


class ModelSettings(BaseModel):
    """Which base model and sentence embedder every stage uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str = Field(
        "embedded",
        description="Base language model: 'embedded' (the packaged SmolLM2-135M-Instruct), "
        "a local Hugging Face model directory, or a hub id (needs allow_hub).",
    )
    embedder: str = Field(
        "embedded",
        description="Sentence embedder: 'embedded' (the packaged all-MiniLM-L6-v2), "
        "a local sentence-transformers directory, or a hub id (needs allow_hub).",
    )
    embedder_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8", description="How indexes embed chunks and queries: 'onnx-int8' (ONNX "
        "Runtime, int8 weights per channel: about 1.9x the chunks/s of sentence-transformers on "
        "a CPU, nDCG@10 within 0.002, benchmarks/results/rag_bench.json), 'onnx' (ONNX Runtime, float32) or 'torch' (sentence-transformers, "
        "float32). The ONNX backends need a BERT with mean pooling, as the embedded embedder "
        "is, and export it once into the user cache. The advisor always reads in float32.")
    dtype: Literal["bfloat16", "float16", "float32"] = Field(
        "bfloat16", description="Weight dtype of the prepared base model."
    )
    allow_hub: bool = Field(
        False, description="Allow downloads from the Hugging Face hub for non-embedded models."
    )


def secret(value) -> str | None:
    """A secret setting as text: ``SecretStr`` keeps keys out of ``graft config show`` and
    reprs; the code that sends them asks for the text here (a plain string passes through)."""
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class AdvisorSettings(BaseModel):
    """How ``graft advise`` reads a description and estimates costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    semantic: bool = Field(
        True,
        description="Match signals by meaning with the embedder, as well as by wording. "
        "Off gives lexical-only advice without loading a model.",
    )
    learned: bool = Field(
        True,
        description="Add the learned reader's term to the scores: a classifier of whole "
        "descriptions fitted on the labelled task descriptions in benchmarks/ (needs "
        "'semantic' and the embedded embedder).",
    )
    light_embedder: bool = Field(
        True,
        description="Embed descriptions with the numpy encoder (no torch import: a cold "
        "'graft advise' in 0.6 s median, benchmarks/results/cold_advise.json) when the embedder is a BERT with mean pooling, as "
        "the embedded one is; off loads it through sentence-transformers. Same vectors.",
    )
    semantic_threshold: float = Field(
        0.48,
        ge=0.0,
        le=1.0,
        description="Cosine similarity from which a clause counts as expressing a signal.",
    )
    train_tflops: float = Field(
        0.1,
        gt=0.0,
        description="Sustained training throughput in TFLOP/s, for the cost estimate. The "
        "default is about what a 2-core CPU sustains on SmolLM2-135M in float32 "
        "(benchmarks/results/train_bench.json has its tokens per second); a single modern GPU "
        "sustains 100 or more.",
    )
    measure_learning_rate: float = Field(
        1e-3, gt=0, lt=1, description="Learning rate of measured advice's short LoRA, "
        "DoRA and PiSSA runs (higher than for a full run, to converge within the budget); other "
        "methods train at their own rate.")
    measure_held_out: int = Field(100, gt=1, description="Held-out examples every arm is "
                                  "scored on, at most.")
    measure_shots: int = Field(8, gt=0, description="Demonstrations in the few-shot arm, "
                               "at most.")
    verdict_margin: float = Field(0.05, ge=0, le=1, description="Measured advice: the practical "
                                  "margin (a share of the metric) within which a tied arm may "
                                  "lead instead of the best point estimate.")



class VllmSettings(BaseModel):
    """How the managed vLLM server runs; passed through to ``vllm serve`` as they are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dtype: str = Field("auto", description="Weight dtype: auto picks float32 on a CPU without "
                       "bf16 arithmetic and bfloat16 elsewhere.")
    max_model_len: int = Field(2048, gt=0, description="Context length vLLM allocates for.")
    max_loras: int = Field(4, gt=0, description="Adapters resident in one batch.")
    max_lora_rank: int | None = Field(
        None, gt=0, description="Highest adapter rank accepted (default: the highest rank of "
        "the adapters served at start-up). vLLM's CPU LoRA kernels cost in proportion to it.")
    max_num_batched_tokens: int | None = Field(
        None, gt=0, description="Tokens vLLM schedules per step (default: vLLM's own).")
    tensor_parallel_size: int = Field(1, gt=0, description="GPUs a model is split across.")
    pipeline_parallel_size: int = Field(1, gt=0, description="Pipeline stages.")
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1,
                                          description="Share of GPU memory vLLM may take "
                                          "(split evenly between the base model's server and "
                                          "any merged adapter's).")
    cpu_kv_cache_gib: int = Field(2, gt=0, description="KV cache on a CPU, GiB.")
    merged_adapters: int = Field(
        1, ge=0, description="On a CPU: how many of the adapters named at start-up (the first "
        "ones) get a vLLM server of their own over a merged copy of the weights, which decodes "
        "at the base model's speed; vLLM's CPU LoRA path decodes at about a third of it. Each "
        "such server holds its own weights and KV cache. The others, and adapters loaded at run "
        "time, go through LoRA. On a GPU every adapter goes through LoRA (multi-LoRA batching).")
    startup_timeout_s: float = Field(600.0, gt=0, description="How long to wait for health.")
    max_restarts: int = Field(3, ge=0, description="Restarts of a vLLM server that died, in a "
                              "row, before the gateway gives up and exits non-zero.")
    extra_args: list[str] = Field(default_factory=list,
                                  description="More `vllm serve` arguments, verbatim.")


class ServingSettings(BaseModel):
    """How ``graft serve`` answers: engine, address, key and limits. Retrieval models use the one
    retrieval prompt of ``rag.prompt``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["auto", "vllm", "local"] = Field(
        "auto", description="auto: vLLM when installed, else the in-process engine.")
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, gt=0, lt=65536, description="Port to listen on.")
    api_key: SecretStr | None = Field(None, description="Require `Authorization: Bearer <key>` "
                                      "(from GRAFT_SERVING__API_KEY or --api-key-file, so that "
                                      "it stays out of the process list).")
    admin_key: SecretStr | None = Field(None, description="Key for POST /v1/adapters (loading "
                                        "adapters at run time); without one, only clients on "
                                        "this machine may load adapters.")
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Without an API key, host names answered besides "
        "loopback ones (localhost, 127.0.0.1, ::1); '*' for any. A DNS-rebinding page is refused "
        "by this check.")
    max_body_bytes: int = Field(1_000_000, gt=0, description="Largest request body accepted.")
    max_tokens_limit: int = Field(1024, gt=0, description="Largest max_tokens accepted.")
    default_max_tokens: int = Field(256, gt=0, description="max_tokens when none is given.")
    max_batch: int = Field(16, gt=0, description="Local engine: requests decoded together.")
    max_in_flight: int = Field(64, gt=0, description="Requests answered at once; more wait.")
    max_queue: int = Field(256, ge=0, description="Requests waiting for a slot; beyond it, 429.")
    max_connections: int = Field(512, gt=0, description="Open client connections at most; "
                                 "beyond it new ones get a 503 at once.")
    body_read_s: float = Field(30.0, gt=0, description="Seconds a request body may take to "
                               "arrive whole; a slower one gets a 408.")
    upstream: list[str] = Field(
        default_factory=list, description="vLLM servers someone else runs to front, instead "
        "of starting one (their base URLs); models.base must be the model they serve.")
    upstream_api_key: SecretStr | None = Field(None, description="The upstream servers' key.")
    request_timeout_s: float = Field(
        600.0, gt=0, description="Longest a request may take, waiting included; then 504 (or "
        "an error event in a stream).")
    vllm: VllmSettings = Field(default_factory=VllmSettings)


class Settings(BaseSettings):
    """Every setting of graftlm. Build it with :func:`load_settings`, not directly."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Field(
        default_factory=_default_home,
        description="Workspace directory holding models, indexes and adapters.",
    )
    models: ModelSettings = Field(default_factory=ModelSettings)
    advisor: AdvisorSettings = Field(default_factory=AdvisorSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    tuning: TuningSettings = Field(default_factory=TuningSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        # Layering is done explicitly in load_settings so that provenance can be reported;
        # the constructor only validates what it is given.
        return (init_settings,)

    @property
    def model_cache(self) -> Path:
        """Where prepared models live."""
        return self.home / "models"


@dataclass(frozen=True)
class LoadedSettings:
    """The effective settings and, per dotted field name, the layer that set it."""

    settings: Settings
    sources: dict[str, str]
    config_file: Path | None


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> LoadedSettings:
    """Build the settings from defaults, ``graft.toml``, ``GRAFT_*`` variables and overrides.

    Args:
        config_file: a TOML file to read; when ``None``, ``$GRAFT_CONFIG`` or ``./graft.toml``
            is read if it exists.
        overrides: dotted names to values, from command-line flags (highest priority).

    Raises:
        ConfigError: the file cannot be read or parsed, or a value is invalid. Every problem is
            reported at once, each with the layer it came from.
    """
    layers: list[tuple[str, dict[str, Any]]] = []

    path = _config_path(config_file)
    if path is not None:
        layers.append((f"file {path}", _read_toml(path)))

    env_layer = EnvSettingsSource(Settings, env_prefix=ENV_PREFIX, env_nested_delimiter="__")()
    if env_layer:
        layers.append(("env", env_layer))
    if overrides:
        layers.append(("flag", _nest({k: v for k, v in overrides.items() if v is not None})))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for label, data in layers:
        for dotted, value in flatten(data).items():
            _set_dotted(merged, dotted, value)
            sources[dotted] = _describe(label, dotted)
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from None
    for dotted in flatten(settings.model_dump()):
        sources.setdefault(dotted, "default")
    return LoadedSettings(settings=settings, sources=sources, config_file=path)


def field_description(section: type[BaseModel], name: str) -> str:
    """The description written once on a settings field, reused as CLI help."""
    return section.model_fields[name].description or ""


def _config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist; check the --config path.")
        return explicit
    named = os.environ.get(ENV_PREFIX + "CONFIG")
    if named:
        if not Path(named).is_file():
            raise ConfigError(f"GRAFT_CONFIG names {named}, which does not exist.")
        return Path(named)
    local = Path.cwd() / CONFIG_FILE_NAME
    return local if local.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or remove it.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys: ``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        _set_dotted(nested, dotted, value)
    return nested


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _describe(label: str, dotted: str) -> str:
    if label == "env":
        return "env " + ENV_PREFIX + dotted.replace(".", "__").upper()
    if label == "flag":
        return "flag --" + dotted.split(".")[-1].replace("_", "-")
    return label


def _explain(exc: ValidationError, sources: dict[str, str]) -> str:
    problems = []
    for err in exc.errors():
        dotted = ".".join(str(p) for p in err["loc"])
        origin = sources.get(dotted, "default")
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown setting '{dotted}' (from {origin})")
        else:
            problems.append(f"{dotted} = {err.get('input')!r} (from {origin}): {err['msg']}")
    known = ", ".join(sorted(flatten(Settings().model_dump())))
    return "invalid settings: " + "; ".join(problems) + f". Known settings: {known}."
