"""What the gateway serves: the engine, the adapters and indexes, and how a model name resolves.

A model name is ``base``, an adapter name, or either of those followed by ``+<index>``. Everything
is checked when the runtime is built — adapters must fit the configured base model, indexes the
configured embedder, and each adapter's method the engine — so a bad combination fails at
start-up with a clear message, not at the first request.

vLLM serves LoRA adapters only. LoRA and PiSSA (saved as LoRA) go through its LoRA path; DoRA,
IA3 and Spectrum adapters fold into the weights exactly, so the gateway serves each from a vLLM
server of its own over a merged copy; a prefix adapter cannot be folded in and is refused with
what to do. The local engine serves every method.
"""

from __future__ import annotations

import asyncio

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graftlm.errors import ArtifactError, ConfigError, InputError
from graftlm.settings import Settings, secret
from graftlm.lineage import version_of
from graftlm.workspace import Workspace

BASE = "base"


@dataclass(frozen=True)
class Sources:
    """A loaded index and the version of it that answers."""

    index: object
    version: dict


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
        from graftlm.models import base_model_dir
        from graftlm.tuning.adapter import fitting_adapter
        from graftlm.tuning.methods import method_of

        self.settings, self.workspace = settings, workspace
        self.base_path = base_model_dir(settings.models, workspace)
        self.adapters: dict[str, dict] = {}
        self.adapter_paths: dict[str, Path] = {}
        self.trained_with: dict[str, dict | None] = {}  # adapter -> the index build it read
        self.methods: dict[str, str] = {}
        for name in dict.fromkeys(adapters):
            artifact = fitting_adapter(_servable(name), self.base_path, workspace)
            self.methods[name] = method_of(artifact.manifest)
            self.adapters[name] = version_of(artifact)
            self.adapter_paths[name] = artifact.path
            self.trained_with[name] = artifact.manifest.get("index")
        self.indexes: dict[str, Sources] = {}
        if indexes:
            from graftlm.embedder import load_embedder
            from graftlm.rag.index import load_index

            embedder = embedder or load_embedder(settings.models)
            for name in dict.fromkeys(indexes):
                index = load_index(name, workspace=workspace, embedder=embedder,
                                   milvus=settings.rag.milvus)
                self.indexes[name] = Sources(index, index.version)
        self.engine = self._engine(engine or settings.serving.engine, report, on_fatal)

    def _engine(self, kind: str, report: Callable[[str], None] | None,
                on_fatal: Callable[[str], None] | None):
        from graftlm.serving.engines.vllm import VllmEngine, vllm_installed

        serving = self.settings.serving
        if kind == "auto" and not serving.upstream:
            kind = "vllm" if vllm_installed() else "local"
        for name, method in self.methods.items():
            _refuse_on(kind if not serving.upstream else "upstream", name, method)
        if serving.upstream:  # vLLM servers that run already: start none
            from graftlm.serving.engines.upstream import UpstreamEngine

            return UpstreamEngine(serving.upstream, self.adapter_paths,
                                  api_key=secret(serving.upstream_api_key), report=report)
        if kind == "vllm":
            merged = self._merged_copies(report)
            lora = {n: p for n, p in self.adapter_paths.items() if n not in merged}
            return VllmEngine(self.base_path, lora, self.settings.serving.vllm,
                              log_dir=self.workspace.home / "logs", report=report,
                              on_fatal=on_fatal, merged=merged)
        if kind == "local":
            from graftlm.serving.engines.local import LocalEngine

            return LocalEngine(self.base_path, self.adapter_paths,
                               max_batch=self.settings.serving.max_batch)
        raise ConfigError(f"unknown engine '{kind}'; choose vllm, local or auto.")

    def _merged_copies(self, report: Callable[[str], None] | None) -> dict[str, Path]:
        """The merged copies of the weights (made once per adapter build, in the workspace
        cache), by name, of the adapters vLLM cannot serve as LoRA, and on a CPU of the first
        ``serving.vllm.merged_adapters`` LoRA adapters too."""
        from graftlm.serving.engines.vllm import on_gpu
        from graftlm.tuning.methods import LORA_SHAPED
        from graftlm.tuning.merge import merged_copy

        lora = [n for n in self.adapter_paths if self.methods[n] in LORA_SHAPED]
        names = [n for n in self.adapter_paths if self.methods[n] not in LORA_SHAPED]
        if not on_gpu():
            names += lora[:self.settings.serving.vllm.merged_adapters]
        if not names:
            return {}
        return {name: merged_copy(name, self.adapters[name]["sha256"], self.settings,
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
        from graftlm.tuning.adapter import fitting_adapter
        from graftlm.tuning.methods import LORA_SHAPED, method_of

        # Reading the card and hashing the weights take a while for a big adapter: off the loop.
        artifact = await asyncio.to_thread(fitting_adapter, _servable(name), self.base_path,
                                           self.workspace)
        version = await asyncio.to_thread(version_of, artifact)
        method = method_of(artifact.manifest)
        if self.engine.name != "local" and method not in LORA_SHAPED and name not in self.adapters:
            _refuse_on(self.engine.name, name, method)  # what cannot be served at all
            raise ArtifactError(f"adapter '{name}' is a {method} adapter, which the vLLM engine "
                                "cannot load while it runs (vLLM loads LoRA adapters only; a "
                                f"{method} adapter is served from a merged copy started with "
                                f"the gateway); restart graft serve with --adapter {name}.")
        if name in self.adapters and self.adapters[name] != version:
            raise ArtifactError(f"adapter '{name}' changed since it was loaded; restart the "
                                "server to serve the new version.")
        await self.engine.add_adapter(name, artifact.path)
        self.adapters[name] = version
        self.adapter_paths[name] = artifact.path
        self.methods[name] = method
        self.trained_with[name] = artifact.manifest.get("index")
        return self.adapters[name]

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
        for adapter, trained in self.trained_with.items():
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
                   "adapter": self.adapters.get(route.adapter) if route.adapter else None,
                   "index": self.indexes[route.index].version if route.index else None}
        warnings = self.warnings(route)
        if warnings:
            lineage["warnings"] = warnings
        return lineage


def _refuse_on(engine: str, name: str, method: str) -> None:
    """Refuse, before anything starts, an adapter the ``engine`` cannot serve."""
    from graftlm.tuning.methods import LORA_SHAPED, UNMERGEABLE

    if engine == "local" or method in LORA_SHAPED:
        return
    if method in UNMERGEABLE:
        raise ArtifactError(f"adapter '{name}' is a prefix-tuning adapter; vLLM serves LoRA "
                            "adapters only, and a prefix cannot be merged into the weights. "
                            "Serve it with --engine local, or train with --method lora.")
    if engine == "upstream":
        raise ArtifactError(f"adapter '{name}' is a {method} adapter; the vLLM servers of "
                            "serving.upstream load LoRA adapters only. Merge it (graft adapters "
                            f"merge {name} --out DIR) and serve that model there, or serve it "
                            "here with --engine local.")


def _servable(name: str) -> str:
    """``name``, if it can name an adapter in a model name (not ``base``, no ``+``)."""
    if name == BASE or "+" in name:
        raise InputError(f"'{name}' cannot name an adapter here; rename it.")
    return name
