"""What the gateway serves: the engine, the adapters and indexes, and how a model name resolves.

A model name is ``base``, an adapter name, or either of those followed by ``+<index>``. Everything
is checked when the runtime is built — adapters must fit the configured base model, indexes the
configured embedder, and each adapter's method the engine — so a bad combination fails at
start-up with a clear message, not at the first request.

Each adapter's method says how vLLM serves it (:attr:`Method.on_vllm`): LoRA and PiSSA (saved as
LoRA) through its LoRA path; DoRA, IA3 and Spectrum fold into the weights exactly, so the gateway
serves each from a vLLM server of its own over a merged copy; prefix and LoReFT adapters cannot be
folded in and are refused with what to do. The local engine serves every method.
"""

from __future__ import annotations

import asyncio

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graftlm.core.embedder import load_embedder
from graftlm.core.errors import ArtifactError, ConfigError, InputError
from graftlm.core.lineage import version_of
from graftlm.core.models import base_model_dir
from graftlm.core.settings import Settings, secret
from graftlm.core.workspace import Artifact, Workspace
from graftlm.rag.index import load_index
from graftlm.serving.engines import vllm
from graftlm.serving.engines.local import LocalEngine
from graftlm.serving.engines.upstream import UpstreamEngine
from graftlm.tuning.adapter import fitting_adapter
from graftlm.tuning.merge import merged_copy
from graftlm.tuning.methods import Method, method_of

BASE = "base"


@dataclass(frozen=True)
class Sources:
    """A loaded index and the version of it that answers."""

    index: object
    version: dict


@dataclass(frozen=True)
class Served:
    """One served adapter: its files, method and version, and the index build it was trained
    to read (None for a plain adapter)."""

    path: Path
    method: Method
    version: dict
    trained_with: dict | None

    @classmethod
    def of(cls, artifact: Artifact, version: dict) -> "Served":
        return cls(artifact.path, method_of(artifact.manifest), version,
                   artifact.manifest.get("index"))


@dataclass(frozen=True)
class Route:
    """What answers one model name."""

    model: str
    adapter: str | None
    index: str | None


class Runtime:
    """The engine plus the workspace artifacts it serves.

    Args:
        settings: All settings; the runtime reads ``models`` and ``serving``.
        workspace: Where the adapters and indexes are.
        adapters: Adapters to serve, by name.
        indexes: Indexes for retrieval models, by name.
        engine: ``vllm``, ``local`` or ``auto`` (default: ``serving.engine``).
        embedder: The indexes' embedder (default: the configured one).
        report: Where the engine's lines for the user go (the vLLM log's path, a restart); the
            CLI passes one that writes to stderr. By default they go nowhere.
        on_fatal: Called when the engine is down for good (a vLLM server that died and did
            not start again); ``graft serve`` then exits non-zero.
    """

    def __init__(self, settings: Settings, workspace: Workspace, *, adapters: list[str] = (),
                 indexes: list[str] = (), engine: str | None = None, embedder=None,
                 report: Callable[[str], None] | None = None,
                 on_fatal: Callable[[str], None] | None = None):
        self.settings, self.workspace = settings, workspace
        self.base_path = base_model_dir(settings.models, workspace)
        self.adapters: dict[str, Served] = {}
        for name in dict.fromkeys(adapters):
            artifact = fitting_adapter(_servable(name), self.base_path, workspace)
            self.adapters[name] = Served.of(artifact, version_of(artifact))
        self.indexes: dict[str, Sources] = {}
        if indexes:
            embedder = embedder or load_embedder(settings.models)
            for name in dict.fromkeys(indexes):
                index = load_index(name, workspace=workspace, embedder=embedder,
                                   milvus=settings.rag.milvus)
                self.indexes[name] = Sources(index, index.version)
        self.engine = self._engine(engine or settings.serving.engine, report, on_fatal)

    def _engine(self, kind: str, report: Callable[[str], None] | None,
                on_fatal: Callable[[str], None] | None):
        serving = self.settings.serving
        if kind == "auto" and not serving.upstream:
            kind = "vllm" if vllm.vllm_installed() else "local"
        for name, served in self.adapters.items():
            _refuse_on(kind if not serving.upstream else "upstream", name, served.method)
        paths = {name: served.path for name, served in self.adapters.items()}
        if serving.upstream:  # vLLM servers that run already: start none

            return UpstreamEngine(serving.upstream, paths,
                                  api_key=secret(serving.upstream_api_key), report=report)
        if kind == "vllm":
            merged = self._merged_copies(report)
            lora = {n: p for n, p in paths.items() if n not in merged}
            return vllm.VllmEngine(self.base_path, lora, self.settings.serving.vllm,
                                   log_dir=self.workspace.home / "logs", report=report,
                                   on_fatal=on_fatal, merged=merged)
        if kind == "local":
            return LocalEngine(self.base_path, paths,
                               max_batch=self.settings.serving.max_batch)
        raise ConfigError(f"unknown engine '{kind}'; choose vllm, local or auto.")

    def _merged_copies(self, report: Callable[[str], None] | None) -> dict[str, Path]:
        """The merged copies of the weights (made once per adapter build, in the workspace
        cache), by name, of the adapters vLLM cannot serve as LoRA, and on a CPU of the first
        ``serving.vllm.merged_adapters`` LoRA adapters too."""
        lora = [n for n, served in self.adapters.items() if served.method.on_vllm == "lora"]
        names = [n for n, served in self.adapters.items() if served.method.on_vllm == "merged"]
        if not vllm.on_gpu():
            names += lora[:self.settings.serving.vllm.merged_adapters]
        if not names:
            return {}
        return {name: merged_copy(name, self.adapters[name].version["sha256"], self.settings,
                                  self.workspace, report=report) for name in names}

    def models(self) -> list[str]:
        heads = [BASE, *self.adapters]
        return heads + [f"{head}+{index}" for head in heads for index in self.indexes]

    def resolve(self, model: str) -> Route | None:
        head, _, index = model.partition("+")
        if head != BASE and head not in self.adapters:
            return None
        if index and index not in self.indexes:
            return None
        return Route(model, None if head == BASE else head, index or None)

    async def add_adapter(self, name: str) -> dict:
        """Serve one more workspace adapter, without a restart."""
        # Reading the card and hashing the weights take a while for a big adapter: off the loop.
        artifact = await asyncio.to_thread(fitting_adapter, _servable(name), self.base_path,
                                           self.workspace)
        served = Served.of(artifact, await asyncio.to_thread(version_of, artifact))
        method = served.method
        if self.engine.name != "local" and method.on_vllm != "lora" and name not in self.adapters:
            _refuse_on(self.engine.name, name, method)  # what cannot be served at all
            raise ArtifactError(f"adapter '{name}' is a {method.name} adapter, which the vLLM "
                                "engine cannot load while it runs (vLLM loads LoRA adapters "
                                f"only; a {method.name} adapter is served from a merged copy "
                                f"started with the gateway); restart graft serve with --adapter "
                                f"{name}.")
        if name in self.adapters and self.adapters[name].version != served.version:
            raise ArtifactError(f"adapter '{name}' changed since it was loaded; restart the "
                                "server to serve the new version.")
        await self.engine.add_adapter(name, artifact.path)
        self.adapters[name] = served
        return served.version

    def public(self, message: str) -> str:
        """``message`` fit for an HTTP client: the workspace's and the base model's paths out."""
        for path, name in ((self.workspace.home, "<workspace>"), (self.base_path, "<base model>")):
            if path:
                message = message.replace(str(path), name)
        return message

    def warnings(self, route: Route | None = None) -> list[str]:
        """Retrieval-aware adapters served apart from the index they were trained with: for
        one route, or (without one) for every adapter at start-up."""
        out = []
        for adapter, served in self.adapters.items():
            trained = served.trained_with
            if not trained or (route is not None and route.adapter != adapter):
                continue
            wanted = trained["name"]
            if route is None:
                if wanted not in self.indexes:
                    out.append(f"adapter '{adapter}' was trained with sources from index "
                               f"'{wanted}', which is not served; pass --index {wanted} and ask "
                               f"for '{adapter}+{wanted}'.")
            elif route.index is None:
                out.append(f"adapter '{adapter}' was trained to answer from index '{wanted}' "
                           f"but answers without sources; ask for '{adapter}+{wanted}'.")
            elif route.index != wanted:
                out.append(f"adapter '{adapter}' was trained with index '{wanted}' but answers "
                           f"from '{route.index}'.")
            elif self.indexes[wanted].version.get("sha256") != trained.get("sha256"):
                out.append(f"index '{wanted}' was rebuilt since adapter '{adapter}' was trained "
                           f"on it (then {trained.get('created')}).")
        return out

    def lineage(self, route: Route) -> dict:
        """Which base model, adapter and index versions produce this model's answers."""
        lineage = {"engine": self.engine.name, "base_model": Path(str(self.base_path)).name,
                   "adapter": self.adapters[route.adapter].version if route.adapter else None,
                   "index": self.indexes[route.index].version if route.index else None}
        warnings = self.warnings(route)
        if warnings:
            lineage["warnings"] = warnings
        return lineage


def _refuse_on(engine: str, name: str, method: Method) -> None:
    """Refuse, before anything starts, an adapter the ``engine`` cannot serve."""
    if engine == "local" or method.on_vllm == "lora":
        return
    if method.on_vllm is None:
        raise ArtifactError(method.not_on_vllm(name))
    if engine == "upstream":
        raise ArtifactError(f"adapter '{name}' is a {method.name} adapter; the vLLM servers of "
                            "serving.upstream load LoRA adapters only. Merge it (graft adapters "
                            f"merge {name} --out DIR) and serve that model there, or serve it "
                            "here with --engine local.")


def _servable(name: str) -> str:
    """``name``, if it can name an adapter in a model name (not ``base``, no ``+``)."""
    if name == BASE or "+" in name:
        raise InputError(f"'{name}' cannot name an adapter here; rename it.")
    return name
