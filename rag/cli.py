"""``graft index …`` and ``graft eval retrieval``: thin commands over the ``rag`` library."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from graftlm.core.commands import artifact_commands, echo_rows, setting_help, workspace_of
from graftlm.core.embedder import load_embedder
from graftlm.rag.evaluate import evaluate, load_queries
from graftlm.rag.index import KIND, build_index, load_index, remove_index, source_folder
from graftlm.rag.milvus import MilvusWriter, resolved
from graftlm.rag.ray_build import ray_executor
from graftlm.rag.retrieve import search

index_app = typer.Typer(no_args_is_help=True, help="Build, query and manage retrieval indexes.")


class Executor(str, Enum):
    local = "local"
    ray = "ray"


class StoreKind(str, Enum):
    faiss = "faiss"
    milvus = "milvus"


class Mode(str, Enum):
    hybrid = "hybrid"
    dense = "dense"
    sparse = "sparse"


def _embedder(settings):
    return load_embedder(settings.models)


def _build(ctx, folder, name, *, force, strict, update, overrides, milvus_uri=None):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    settings, workspace = workspace_of(ctx, **overrides)
    embedder = _embedder(settings)
    executor = store = None
    if settings.rag.executor == "ray":
        executor = ray_executor(settings.models, settings.rag.ray)
    if settings.rag.store == "milvus":
        milvus = settings.rag.milvus
        store = MilvusWriter(resolved(milvus.model_copy(update={"uri": milvus_uri or milvus.uri}),
                                      workspace), workspace)
    err = Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = build_index(folder, name, workspace=workspace, settings=settings.rag,
                             embedder=embedder, force=force, strict=strict, update=update,
                             progress=progress, executor=executor, store=store)
    for file, reason in report.skipped:
        err.print(f"skipped {file}: {reason}", style="yellow", highlight=False)
    recall = f", recall@10 {report.recall_at_10:.3f}" if report.recall_at_10 is not None else ""
    verb = "updated" if update else "built"
    typer.echo(f"{verb} index '{name}': {report.files} files, {report.chunks} chunks "
               f"({report.embedded} embedded, {report.reused_files} files reused, "
               f"{len(report.removed_files)} removed, {len(report.skipped)} skipped), "
               f"{report.dense} dense index{recall}, in {report.seconds:.1f} s → {report.path}")


@index_app.command("build")
def build(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="Folder of documents, read recursively.")],
    name: Annotated[str, typer.Option(help="Name of the index in the workspace.")],
    force: Annotated[bool, typer.Option(help="Replace an existing index of that name.")] = False,
    strict: Annotated[bool, typer.Option(help="Fail on any unreadable file.")] = False,
    text_field: Annotated[str | None, typer.Option(help=setting_help("rag.text_field"))] = None,
    id_field: Annotated[str | None, typer.Option(help=setting_help("rag.id_field"))] = None,
    chunk_tokens: Annotated[int | None, typer.Option(help=setting_help("rag.chunk_tokens"))]
    = None,
    chunk_overlap: Annotated[int | None, typer.Option(help=setting_help("rag.chunk_overlap"))]
    = None,
    executor: Annotated[Executor | None, typer.Option(help=setting_help("rag.executor"))]
    = None,
    store: Annotated[StoreKind | None, typer.Option(help=setting_help("rag.store"))] = None,
) -> None:
    """Index a folder: text, Markdown, HTML, PDF and JSONL files."""
    _build(ctx, folder, name, force=force, strict=strict, update=False, overrides={
        "rag.text_field": text_field, "rag.id_field": id_field,
        "rag.chunk_tokens": chunk_tokens, "rag.chunk_overlap": chunk_overlap,
        "rag.executor": executor and executor.value, "rag.store": store and store.value})


@index_app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The index to refresh.")],
    folder: Annotated[Path | None, typer.Option(
        help="Folder to read (default: the one it was built from).")] = None,
    strict: Annotated[bool, typer.Option(help="Fail on any unreadable file.")] = False,
    executor: Annotated[Executor | None, typer.Option(help=setting_help("rag.executor"))]
    = None,
) -> None:
    """Re-embed only new or changed files; drop deleted ones. The index stays in its store."""
    settings, workspace = workspace_of(ctx)
    manifest = workspace.get(KIND, name).manifest
    chunking = manifest.get("chunking", {})
    held = manifest.get("store", {"type": "faiss"})
    overrides = {**{f"rag.{k}": v for k, v in chunking.items()}, "rag.store": held["type"],
                 "rag.executor": executor and executor.value}
    _build(ctx, folder or source_folder(workspace, name), name, force=False, strict=strict,
           update=True, overrides=overrides, milvus_uri=held.get("uri"))


@index_app.command("query")
def query(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The index to search.")],
    text: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int | None, typer.Option("-k", min=1, max=1000, help=setting_help("rag.k"))]
    = None,
    mode: Annotated[Mode | None, typer.Option(help=setting_help("rag.mode"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the best chunks for a question, with source, location and score."""
    settings, workspace = workspace_of(ctx)
    index = load_index(name, workspace=workspace, embedder=_embedder(settings),
                       milvus=settings.rag.milvus)
    results = search(index, text, k=k or settings.rag.k, mode=(mode or Mode(settings.rag.mode))
                     .value, rrf_k=settings.rag.rrf_k, sparse_weight=settings.rag.sparse_weight)
    if as_json:
        typer.echo(json.dumps([{"rank": i + 1, "score": r.score, "dense_rank": r.dense_rank,
                                "sparse_rank": r.sparse_rank, "location": r.chunk.location(),
                                **r.chunk.to_dict()} for i, r in enumerate(results)], indent=2,
                              ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=True, title=f"{name}: {text}", title_justify="left")
    table.add_column("#")
    table.add_column("score")
    table.add_column("source", overflow="fold", ratio=1)
    table.add_column("location", overflow="fold", ratio=1)
    table.add_column("text", overflow="fold", ratio=3)
    for i, r in enumerate(results, 1):
        flat = " ".join(r.chunk.text.split())
        snippet = flat if len(flat) < 300 else flat[:297] + "…"
        table.add_row(str(i), f"{r.score:.4f}", r.chunk.source, r.chunk.location(), snippet)
    Console().print(table)


@index_app.command("list")
def list_(ctx: typer.Context,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the indexes in the workspace."""
    _, workspace = workspace_of(ctx)
    rows = [{"name": a.name, "chunks": a.manifest.get("chunk_count"),
             "files": len(a.manifest.get("files", {})), "embedder": a.manifest.get("embedder"),
             "store": _held_in(a.manifest.get("store", {"type": "faiss"})),
             "created": a.manifest.get("created"), "path": str(a.path)}
            for a in workspace.list(KIND)]
    echo_rows(rows, as_json, "no indexes yet; build one with `graft index build DIR --name NAME`.",
              lambda r: f"{r['name']}\t{r['files']} files\t{r['chunks']} chunks\t"
                        f"{r['embedder']}\t{r['store']}\t{r['created']}")


def _held_in(store: dict) -> str:
    """Where an index is held, for a listing: 'faiss', or the Milvus collection and URI."""
    if store["type"] == "milvus":
        return f"milvus {store['collection']} at {store['uri']}"
    return store["type"]


def eval_retrieval(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The index to evaluate.")],
    queries: Annotated[Path, typer.Option(help="Queries: JSONL, or BEIR queries.jsonl.")],
    qrels: Annotated[Path | None, typer.Option(help="BEIR qrels.tsv (query-id, corpus-id).")]
    = None,
    query_field: Annotated[str, typer.Option(help="JSONL field with the question.")] = "question",
    gold_field: Annotated[str, typer.Option(help="JSONL field with gold document id(s).")]
    = "gold_doc_id",
    k: Annotated[int, typer.Option("-k", min=1, help="Cut-off for hit@k and recall@k.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """hit@k, recall@k, MRR and nDCG@10 of dense, sparse and hybrid search, side by side."""
    settings, workspace = workspace_of(ctx)
    loaded = load_queries(queries, qrels=qrels, query_field=query_field, gold_field=gold_field)
    index = load_index(name, workspace=workspace, embedder=_embedder(settings),
                       milvus=settings.rag.milvus)
    result = evaluate(index, loaded, k=k, rrf_k=settings.rag.rrf_k,
                      sparse_weight=settings.rag.sparse_weight)
    if as_json:
        typer.echo(json.dumps({"index": name, "queries": len(loaded), "metrics": result},
                              indent=2))
        return
    metrics = list(next(iter(result.values())))
    typer.echo(f"{len(loaded)} queries on '{name}'")
    typer.echo("mode     " + "".join(f"{m:>11}" for m in metrics))
    for mode, row in result.items():
        typer.echo(f"{mode:9}" + "".join(f"{row[m]:11.4f}" for m in metrics))


def remove(settings, workspace, name: str) -> Path:
    """``graft index rm``: the index, and its collections if Milvus holds it."""
    return remove_index(name, workspace=workspace, milvus=settings.rag.milvus)


index_show, index_rm = artifact_commands("indexes", "index", remove=remove)
index_app.command("show")(index_show)
index_app.command("rm")(index_rm)
