"""LoReFT (Wu et al. 2024, "ReFT: Representation Finetuning for Language Models").

Every weight of the base model stays frozen. At each decoder layer, the hidden states of the
prompt's last ``tuning.reft_positions`` tokens are edited inside a learned subspace of rank
``tuning.reft_rank``:

    h' = h + Rᵀ (W h + b − R h)

where R (r × d) has orthonormal rows (kept so by a parametrisation) and W, b are a plain linear
map. R h is what h says along the subspace; W h + b is what it should say; the edit swaps one
for the other and leaves the rest of h alone. On the embedded model, rank 4 at every layer is
about 0.1% of LoRA's trainable parameters at rank 16.

Where to edit: the paper edits the first and last few prompt tokens. In a causal model the
first tokens see only what comes before them — with a chat template, the same system header for
every request — so their states carry nothing of the request; the last prompt tokens (the
template's opening of the answer) have read all of it. graftlm edits those. Only the prompt is
edited: generated tokens read the edited states through the KV cache, so decoding costs the
base model's speed, and the edit is applied once per request, at prefill.

Because the edit is a function of positions and activations, not a change of weights, a LoReFT
adapter cannot be merged and vLLM cannot serve it; the local engine gives it a model of its own.
The edits hang off the base model itself (``model.graft_reft``), with hooks on its decoder layers,
so generation, KV caches and training run through the model's own ``forward``.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from graftlm.core.errors import ArtifactError
from graftlm.tuning.methods.base import Method

WEIGHTS, CONFIG = "reft.safetensors", "reft.json"


class Loreft(Method):
    name = "loreft"
    summary = "a learned low-rank edit of the prompt's last hidden states at every layer (ReFT)"
    label = "LoReFT"
    starts_as_base = True
    default_rate = 2e-3  # measured on SNIPS (benchmarks/peft_methods.py)
    packs = False
    on_vllm = None
    unmergeable = "it edits the hidden states of the prompt's last tokens, not the weights"
    search = {"reft_rank": (1, 2, 4, 8), "reft_positions": (1, 3, 5, 8)}
    recipe = {"reft_rank": 4, "reft_positions": 5}

    def search_words(self, params: dict) -> list[str]:
        return [f"r{params['reft_rank']} last {params['reft_positions']}"] \
            if "reft_rank" in params else []

    def why_not_packed(self) -> str:
        return "it edits each prompt's last tokens, which a packed row does not mark"

    def prepare(self, model, settings, *, init_dir, start_ids):
        """Freeze the base and add fresh edits at every layer. Each starts as no edit at all —
        W = R and b = 0, so W h + b − R h = 0 — as LoRA starts with B = 0: the untrained adapter
        answers as the base model, and training moves it from there (a random W, as the
        reference implementation draws it, starts from a model worse than the base)."""
        import torch

        for param in model.parameters():
            param.requires_grad_(False)
        layers = list(range(len(decoder_layers(model))))
        install(model, rank=settings.reft_rank, positions=settings.reft_positions,
                layers=layers)
        with torch.no_grad():
            for part in model.graft_reft.values():
                part["source"].weight.copy_(part["rotate"].weight)
                part["source"].bias.zero_()
        return model, {"config": describe(model)}

    def save(self, model, out: Path, settings, tokenizer, *, init_dir) -> None:
        from safetensors.torch import save_file

        edits = model.graft_reft
        save_file({k: v.detach().cpu().contiguous() for k, v in edits.state_dict().items()},
                  str(Path(out) / WEIGHTS))
        (Path(out) / CONFIG).write_text(json.dumps(describe(model), indent=2) + "\n")

    def open(self, base, path: Path):
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
            raise ArtifactError(f"{path} lacks {CONFIG} or {WEIGHTS}; train the adapter again.")
        config = json.loads((path / CONFIG).read_text())
        if config["hidden_size"] != base.config.hidden_size or \
                max(config["layers"]) >= len(decoder_layers(base)):
            raise ArtifactError(f"the LoReFT adapter in {path} was trained on another model "
                                f"(hidden size {config['hidden_size']}, layers up to "
                                f"{max(config['layers'])}).")
        install(base, rank=config["rank"], positions=config["positions"],
                layers=config["layers"])
        try:
            base.graft_reft.load_state_dict(load_file(str(path / WEIGHTS)))
        except RuntimeError as exc:
            raise ArtifactError(f"cannot load the LoReFT adapter in {path}: {exc}") from exc
        return base

    @contextmanager
    def switched_off(self, model):
        edits = model.graft_reft
        edits.enabled = False
        try:
            yield model
        finally:
            edits.enabled = True



def decoder_layers(model):
    """The model's list of decoder layers (the ModuleList as long as its layer count)."""
    import torch

    count = model.config.num_hidden_layers
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    raise ArtifactError(f"cannot find the decoder layers of this {type(model).__name__}; "
                        "choose another tuning.method.")


def describe(model) -> dict:
    """The edit's shape, as saved beside its weights."""
    edits = model.graft_reft
    return {"rank": edits.rank, "positions": edits.positions, "layers": edits.layers,
            "hidden_size": model.config.hidden_size}


def install(model, *, rank: int, positions: int, layers: list[int]) -> None:
    """Give ``model`` fresh LoReFT edits at ``layers`` (``model.graft_reft``) and the hooks
    that apply them to the prompt's last ``positions`` tokens."""
    import torch
    from torch.nn.utils.parametrizations import orthogonal

    width = model.config.hidden_size
    device = next(model.parameters()).device
    edits = torch.nn.ModuleDict({
        str(layer): torch.nn.ModuleDict({
            "rotate": orthogonal(torch.nn.Linear(width, rank, bias=False)),  # R: rows orthonormal
            "source": torch.nn.Linear(width, rank)})  # W h + b
        for layer in layers}).to(device)
    edits.rank, edits.positions, edits.layers = rank, positions, list(layers)
    edits.enabled, edits.where = True, None
    model.graft_reft = edits
    model.reads_prompt_lengths = True  # training passes where each row's prompt ends
    model.register_forward_pre_hook(_before_forward, with_kwargs=True)
    stack = decoder_layers(model)
    for layer in layers:
        stack[layer].register_forward_hook(_editor(edits, str(layer)))


def _before_forward(model, args, kwargs):
    """Mark which positions of this call get edited: the last prompt tokens of each row at
    prefill (``prompt_lengths`` where the call holds answers too), none while decoding on a
    cache."""
    lengths = kwargs.pop("prompt_lengths", None)
    edits = model.graft_reft
    edits.where = where(kwargs.get("input_ids", args[0] if args else None),
                        kwargs.get("attention_mask"), kwargs.get("past_key_values"), lengths,
                        edits.positions) if edits.enabled else None
    return args, kwargs


def where(ids, mask, past, lengths, positions: int):
    """(rows, tokens) booleans: the ``positions`` tokens before each row's prompt end — its
    ``lengths`` if given, else its last real token — or None when there is nothing to edit."""
    import torch

    if ids is None or (past is not None and past.get_seq_length() > 0):
        return None
    width = ids.shape[1]
    column = torch.arange(width, device=ids.device)[None, :]
    if lengths is not None:
        end = lengths.to(ids.device)[:, None]
    elif mask is not None:  # left- or right-padded: the end is after the last real token
        end = width - torch.argmax(mask.flip(-1), dim=-1)[:, None]
    else:
        end = torch.full((ids.shape[0], 1), width, device=ids.device)
    chosen = (column < end) & (column >= end - positions)
    return chosen & mask.bool() if mask is not None else chosen


def _editor(edits, key: str):
    """The forward hook of one decoder layer: h + Rᵀ(W h + b − R h) where marked."""
    def edit(module, args, output):
        marked = edits.where
        if marked is None:
            return output
        hidden = output[0] if isinstance(output, tuple) else output
        part = edits[key]
        rotate = part["rotate"].weight
        states = hidden.to(rotate.dtype)
        delta = (part["source"](states) - states @ rotate.T) @ rotate
        hidden = hidden + (delta * marked[..., None]).to(hidden.dtype)
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    return edit
