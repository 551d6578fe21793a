"""The adapter artifact: ``adapters/<name>/`` in the workspace, opened on top of the base model.

An adapter is its method's files (:mod:`tuning.methods`: for the peft methods exactly as peft
writes them, ``adapter_config.json`` and ``adapter_model.safetensors``, loadable as-is by peft
and, for LoRA and PiSSA, by vLLM) plus ``manifest.json`` holding its card (:mod:`tuning.card`). Opening one refuses an adapter trained on another base model, and
a full fine-tune, which is a model of its own.
"""

from __future__ import annotations

from pathlib import Path

from graftlm.core.errors import ArtifactError
from graftlm.core.lineage import model_hash
from graftlm.core.loader import load_base
from graftlm.core.settings import Settings
from graftlm.core.workspace import Artifact, Workspace
from graftlm.tuning.methods import method_of

KIND = "adapters"


def open_adapter(name: str, settings: Settings, workspace: Workspace):
    """The base model with adapter ``name`` on top (:meth:`Method.open`), its
    tokenizer and card, refusing one trained for another base."""
    model, tokenizer, base_path = load_base(settings.models, workspace)
    artifact = fitting_adapter(name, base_path, workspace)
    card = artifact.manifest
    return method_of(card).open(model, artifact.path), tokenizer, card


def fitting_adapter(name: str, base_path: Path | str, workspace: Workspace) -> Artifact:
    """Adapter ``name``'s artifact, refusing one trained for another base model or a full
    fine-tune (which is a model of its own, not an adapter)."""
    artifact = workspace.get(KIND, name)
    card = artifact.manifest
    expected, actual = card.get("base_model", {}).get("sha256"), model_hash(base_path)
    if expected and actual and expected != actual:
        raise ArtifactError(
            f"adapter '{name}' was trained on a base model with hash {expected[:12]}…, but the "
            f"configured base model ({base_path}) has hash {actual[:12]}…; set models.base to "
            f"the model it was trained on ({card['base_model'].get('path')}).")
    if method_of(card).is_model:
        raise ArtifactError(f"'{name}' is a full fine-tune, not an adapter; load it directly "
                            f"from {artifact.path}.")
    return artifact
