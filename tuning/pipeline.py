"""``graft train`` end to end: validate the data, split it, train, and publish the adapter.

A run checkpoints under ``runs/<name>/`` and publishes ``adapters/<name>/`` (its method's files,
:mod:`tuning.methods`, and the card) only when it finishes, atomically, so an interrupted
run leaves no half-written adapter under the final name and a previous one intact.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from pathlib import Path

from graftlm.core.embedder import load_embedder
from graftlm.core.errors import ArtifactError, DataFormatError, InputError
from graftlm.core.lineage import version_of
from graftlm.core.loader import base_tokenizer
from graftlm.core.models import base_model_dir
from graftlm.core.settings import Settings
from graftlm.core.workspace import Workspace, write_manifest
from graftlm.rag.index import KIND as INDEXES, load_index
from graftlm.tuning.adapter import KIND
from graftlm.tuning.batching import split
from graftlm.tuning.card import make_card
from graftlm.tuning.data import FieldMap, Format, clean_examples
from graftlm.tuning.events import Progress
from graftlm.tuning.methods import METHODS, check_fits, save
from graftlm.tuning.raft import max_length_with_sources, render
from graftlm.tuning.run import Run


def train_adapter(data: Path, name: str, settings: Settings, workspace: Workspace, **options
                  ) -> tuple[Path, dict]:
    """Train and publish adapter ``name`` (see :func:`_train_adapter`), holding the name for
    the whole run: a second ``graft train`` under the same name is refused at once instead of
    sharing its checkpoints. Under ``accelerate launch`` the main process (RANK 0) holds it."""
    if os.environ.get("RANK", "0") != "0":
        return _train_adapter(data, name, settings, workspace, **options)
    with workspace.claim(KIND, name, "graft train"):
        return _train_adapter(data, name, settings, workspace, **options)


def _train_adapter(data: Path, name: str, settings: Settings, workspace: Workspace, *,
                  eval_file: Path | None = None, fmt: Format | None = None,
                  fields: FieldMap | None = None, force: bool = False,
                  resume: bool = False, progress: Progress | None = None,
                  qlora: bool = False, index: str | None = None, embedder=None,
                  search: dict | None = None) -> tuple[Path, dict]:
    """Validate ``data``, train by ``settings.tuning.method``, and publish adapter ``name``;
    returns (path, card).

    ``search`` (from :mod:`tuning.auto`) goes into the card as the search that chose the
    settings. With ``index``, a retrieval-aware adapter: every example (held-out ones too) is rendered
    with sources from that index (:mod:`tuning.raft`), and the card records which index build.
    """
    if workspace.exists(KIND, name) and not force:
        raise ArtifactError(f"an adapter named '{name}' already exists; pass --force to "
                            "replace it.")
    method = settings.tuning.tuner
    if qlora and not method.on_4bit_base:
        raise InputError(f"--qlora and method {method.name} exclude each other: QLoRA trains "
                         "an adapter on a frozen 4-bit base, and "
                         + f"{method.name} " + ("trains the base weights" if method.trains_base
                                                else "rewrites the base weights it starts from")
                         + ". Choose --method " + ", ".join(
                             n for n, m in METHODS.items() if m.on_4bit_base) + " with --qlora.")
    check_fits(settings.tuning, base_config(settings, workspace))
    tokenizer, base_path = base_tokenizer(settings.models, workspace)
    report = clean_examples(data, tokenizer, settings, fmt=fmt, fields=fields)
    if eval_file is not None:
        held_report = clean_examples(eval_file, tokenizer, settings, fmt=fmt, fields=fields)
        train_set, held = report.examples, held_report.examples[:settings.tuning.eval_max]
    else:
        train_set, held = split(report.examples, settings.tuning.eval_fraction,
                                settings.tuning.eval_max, settings.tuning.seed)
    if not train_set:
        raise DataFormatError("leaves no examples to train on after the held-out split",
                              path=data)
    sources = None
    if index is not None:
        settings, train_set, held, sources = with_index(settings, workspace, index, tokenizer,
                                                         train_set, held, embedder)
    runs = workspace.home / "runs" / name
    init_dir = runs / "start"  # where a method keeps its starting state (PiSSA's adapter)
    trained = Run(settings, workspace, settings.tuning, tokenizer, train_set, held,
                  scratch=init_dir, four_bit=qlora).execute(checkpoint=runs, resume=resume,
                                                             progress=progress)
    result, record = trained.result, trained.record
    if not result.main_process:  # under `accelerate launch`, the main process publishes
        return workspace.path(KIND, name), {}
    card = make_card(settings, base_path, data, report, result, method=record,
                     tokenizer=tokenizer, train_count=len(train_set), eval_count=len(held))
    card["hyperparameters"]["qlora"] = qlora
    card["data"]["fields"] = asdict(fields) if fields else None
    card["index"] = sources
    if search is not None:
        card["search"] = search
    with workspace.writer(KIND, name, replace=True) as staging:
        save(result.model, staging, settings.tuning, tokenizer, init_dir=init_dir)
        write_manifest(staging, "adapter", {"name": name, **card})
    shutil.rmtree(runs, ignore_errors=True)
    return workspace.path(KIND, name), card


def with_index(settings: Settings, workspace: Workspace, name: str, tokenizer, train_set,
                held, embedder):
    """The examples rendered with sources from index ``name``, the settings with room for the
    sources in each example, and the card's record of the index."""
    loaded = load_index(name, workspace=workspace,
                        embedder=embedder or load_embedder(settings.models),
                        milvus=settings.rag.milvus)
    t = settings.tuning
    room = max_length_with_sources(t, settings.rag)
    settings = settings.model_copy(update={"tuning": t.model_copy(update={"max_length": room})})
    rendered = render(train_set, loaded, settings.rag, tokenizer,
                      distractor_share=t.distractor_share, seed=t.seed)
    held = render(held, loaded, settings.rag, tokenizer).examples
    record = {**version_of(workspace.get(INDEXES, name)), "prompt":
              settings.rag.prompt.model_dump(), "distractor_share": t.distractor_share,
              "distractor_only": rendered.distractor_only, "gold_removed": rendered.gold_removed,
              "gold_added": rendered.gold_added}
    return settings, rendered.examples, held, record


def base_config(settings: Settings, workspace: Workspace):
    """The base model's configuration, read without its weights."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(base_model_dir(settings.models, workspace))
