"""``graft index build --executor ray``: read, chunk and embed on a Ray cluster.

Two Ray Data stages over the files a build needs (an update sends only new and changed ones):
reading and chunking runs as tasks, each loading the embedder's tokenizer once per worker
process to count tokens as the local build does, and its chunks stay in Ray's object store;
then embedding runs on a pool of ``rag.ray.workers`` actors, each holding one embedder (on a
GPU with ``rag.ray.gpus_per_worker``). Every chunk row carries its file and its position in it, so the
driver puts the result back in the local build's order: the same chunks, ids and manifest, and
the same vectors within float tolerance (batches differ, so padding does). Writing the index
stays on the driver.

With no ``rag.ray.address`` a local Ray is started for the build and stopped after it.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from graftlm.core.embedder import load_embedder
from graftlm.core.errors import BackendUnavailableError, ConfigError, DocumentLoadError
from graftlm.core.settings import ModelSettings, RagSettings, RaySettings
from graftlm.rag.chunking import Chunk, make_splitter
from graftlm.rag.index import read_file

READING, STAGE = "reading (Ray)", "embedding files (Ray)"


def ray_executor(models: ModelSettings, ray: RaySettings):
    """An executor for :func:`rag.index.build_index` that runs on Ray (see the module)."""

    def run(todo: Sequence[tuple[str, Path, str]], folder: Path, settings: RagSettings,
            embedder, strict: bool, progress) -> Iterator[tuple]:
        if not todo:
            return
        _connect(ray)
        try:
            yield from _run(todo, folder, settings, models, ray, embedder.dim, strict, progress)
        finally:
            import ray as ray_module  # imported by _connect; the name here is for shutdown

            ray_module.shutdown()

    return run


def _quiet() -> None:
    """Ray's own progress and info lines would interleave with graftlm's progress bar."""
    for name in ("ray", "ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # max_restarts has no named parameter yet; a small update leaves actors idle, rightly.
    warnings.filterwarnings("ignore", message=r".*ray_remote_args.* is deprecated")
    warnings.filterwarnings("ignore", message=r"The minimum number of concurrent actors")


def _connect(settings: RaySettings) -> None:
    try:
        import ray
        import ray.data  # noqa: F401  (sets up its loggers, which _quiet then turns down)
    except ImportError:
        raise BackendUnavailableError("rag.executor = 'ray' needs Ray Data: pip install "
                                      "'graftlm[scale]'.") from None

    _quiet()
    options = {"include_dashboard": False, "log_to_driver": False,
               "logging_level": logging.ERROR, "configure_logging": False}
    if settings.address:
        _reachable(settings.address)
        try:
            ray.init(address=settings.address, **options)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            raise BackendUnavailableError(
                f"cannot join the Ray cluster at {settings.address} (rag.ray.address): "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. A cluster "
                "with token authentication (Ray's default from 2.61) needs its token here: "
                "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (`ray get-auth-token` on its head "
                "node).") from None
        _check_room(settings)
        return
    # "local": a Ray of its own, even where one started with `ray start` runs.
    ray.init(address="local", num_cpus=os.cpu_count() or 1, object_store_memory=512 * 2**20,
             **options)
    _check_room(settings)


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Ray retries an unreachable cluster for minutes, printing as it goes; a plain connection
    attempt tells at once."""
    import socket

    if address == "auto":
        return  # the cluster this machine runs, which ray.init finds (or says is missing)
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        why = "not HOST:PORT" if isinstance(exc, ValueError) else (exc.strerror or str(exc))
        raise BackendUnavailableError(
            f"cannot reach the Ray cluster at {address} (rag.ray.address): {why}. Check that "
            "it runs (`ray status` on its head node), or unset rag.ray.address to build on a "
            "local Ray.") from None


def _check_room(settings: RaySettings) -> None:
    """Refuse a pool the cluster can never place, instead of waiting for it forever."""
    import ray

    have = ray.cluster_resources()
    need = {"CPU": settings.workers * settings.cpus_per_worker,
            "GPU": settings.workers * settings.gpus_per_worker}
    short = [f"{need[r]:g} {r}s (it has {have.get(r, 0):g})" for r in need
             if need[r] > have.get(r, 0)]
    if short:
        ray.shutdown()
        raise ConfigError(f"the Ray cluster cannot hold {settings.workers} embedding workers: "
                          f"they need {', '.join(short)}. Lower rag.ray.workers, "
                          "rag.ray.cpus_per_worker or rag.ray.gpus_per_worker.")


def _run(todo, folder, settings: RagSettings, models: ModelSettings, ray_settings: RaySettings,
         dim: int, strict: bool, progress) -> Iterator[tuple]:
    import ray

    context = ray.data.DataContext.get_current()
    _quiet()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    sha = {rel: digest for rel, _, digest in todo}
    files = ray.data.from_items([{"rel": rel, "path": str(path)} for rel, path, _ in todo],
                                override_num_blocks=max(1, min(len(todo), 4 * ray_settings.workers)))
    # Reading and chunking run as tasks over the whole cluster, and finish before the embedding
    # actors start: left to run side by side, actors holding every CPU starve the tasks.
    progress(READING, 0, len(todo))
    chunked = files.map_batches(
        chunk_files, batch_size=ray_settings.files_per_block, batch_format="numpy",
        num_cpus=ray_settings.cpus_per_worker,
        fn_kwargs={"folder": str(folder), "settings": settings, "models": models}).materialize()
    progress(READING, len(todo), len(todo))
    embedded = chunked.map_batches(
        EmbedChunks, batch_size=ray_settings.batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=ray_settings.workers),
        num_cpus=ray_settings.cpus_per_worker, num_gpus=ray_settings.gpus_per_worker,
        max_restarts=0, fn_constructor_kwargs={"models": models, "dim": dim})
    pending: dict[str, tuple[int, list]] = {}
    done = 0
    progress(STAGE, 0, len(todo))
    for row in embedded.iter_rows():
        rel, reason = str(row["rel"]), str(row["skip"])
        if reason:
            if strict:
                raise DocumentLoadError(rel, reason)
            done += 1
            progress(STAGE, done, len(todo))
            yield rel, sha[rel], reason
            continue
        of, parts = pending.setdefault(rel, (int(row["of"]), []))
        parts.append((int(row["position"]), str(row["chunk"]),
                      np.asarray(row["vector"], dtype=np.float32)))
        if len(parts) == of:
            del pending[rel]
            parts.sort(key=lambda part: part[0])
            chunks = [Chunk.from_dict(json.loads(c)) for _, c, _ in parts]
            done += 1
            progress(STAGE, done, len(todo))
            yield rel, sha[rel], (chunks, np.stack([v for *_, v in parts]))


def chunk_files(batch: dict, *, folder: str, settings: RagSettings,
                models: ModelSettings) -> dict:
    """Ray task: read and chunk a batch of files; one row per chunk, or one per skipped file.
    Unreadable files are always reported as rows (never raised), so the driver decides about
    ``strict``."""
    tokens = load_embedder(models, light=True)  # cached in the worker process
    splitter = make_splitter(settings.chunk_tokens, settings.chunk_overlap, tokens.count_tokens)
    rows: dict[str, list] = {"rel": [], "position": [], "of": [], "chunk": [], "text": [],
                             "skip": []}
    for rel, path in zip(batch["rel"], batch["path"]):
        found = read_file(Path(path), Path(folder), str(rel), settings, splitter, strict=False)
        if isinstance(found, str):
            found = [(found, None)]
        else:
            found = [(None, chunk) for chunk in found]
        for position, (reason, chunk) in enumerate(found):
            rows["rel"].append(str(rel))
            rows["position"].append(position)
            rows["of"].append(len(found))
            rows["chunk"].append(json.dumps(chunk.to_dict(), ensure_ascii=False) if chunk else "")
            rows["text"].append(chunk.embedding_text() if chunk else "")
            rows["skip"].append(reason or "")
    return rows


class EmbedChunks:
    """Ray actor: holds one embedder and embeds batches of chunk rows."""

    def __init__(self, models: ModelSettings, dim: int):
        self.embedder, self.dim = load_embedder(models), dim

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        live = [i for i, reason in enumerate(batch["skip"]) if not reason]
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        if live:
            vectors[live] = self.embedder.embed([texts[i] for i in live])
        return {**{k: batch[k] for k in ("rel", "position", "of", "chunk", "skip")},
                "vector": vectors}
