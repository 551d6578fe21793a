"""The PEFT toolbox: how each ``tuning.method`` wraps the base model, is saved, opened and merged.

=========  ==========================================================  ==========  ============
method     what trains                                                 saved as    merges
=========  ==========================================================  ==========  ============
lora       low-rank updates B·A of the target layers (peft LoRA)        peft LoRA   yes
dora       LoRA's direction plus a learned magnitude per output         peft DoRA   yes
pissa      LoRA started from each weight's principal singular vectors   peft LoRA   yes
ia3        learned scales of keys, values and the MLP's inner input    peft IA3    yes
prefix     learned key/value prefixes in every layer                    peft prefix no
spectrum   the highest signal-to-noise weight matrices, in full         the trained yes
                                                                        tensors
full       every weight                                                 a model     (a model)
=========  ==========================================================  ==========  ============

PiSSA rewrites the base weights it starts from (W = W_res + B·A); at save time peft turns the
trained adapter into a plain LoRA of twice the rank on the *unmodified* base, so it loads,
batches and serves (vLLM included) exactly as LoRA does. Spectrum's artifact holds only the
matrices it trained (:mod:`tuning.spectrum` chose them); opening it copies them over the base's.
"""

from __future__ import annotations

import json
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

from graftlm.errors import ArtifactError, InputError
from graftlm.settings import TuningSettings

LORA_FAMILY = ("lora", "dora", "pissa")  # low-rank updates: a rank, alpha and targets
LORA_SHAPED = frozenset({"lora", "pissa"})  # saved as plain LoRA: mixed batches, vLLM's LoRA
UNMERGEABLE = frozenset({"prefix"})
SPECTRUM_FILE = "spectrum.safetensors"
_ATTENTION = ("attn", "attention")


def method_of(card: dict) -> str:
    """The method an artifact was trained with (cards before the toolbox say lora or full)."""
    return card.get("type") or "lora"


def method_at(path: Path) -> str:
    """The method of the artifact in folder ``path``: its card's, else (a bare peft folder)
    lora."""
    manifest = Path(path) / "manifest.json"
    if manifest.is_file():
        return method_of(json.loads(manifest.read_text()))
    return "lora"


# -- which layers ------------------------------------------------------------------------------

def linear_layers(model) -> dict[str, object]:
    """The linear layers inside the model's numbered blocks, by module path."""
    import torch

    from graftlm.tuning.spectrum import module_kind

    return {name: module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module_kind(f"{name}.weight")}


def _group(path: str) -> str:
    parent = path.rsplit(".", 2)[-2].lower()
    return "attention" if any(word in parent for word in _ATTENTION) else "mlp"


def target_names(model, targets: str) -> list[str]:
    """The leaf names (``q_proj``, …) of the linear layers ``targets`` names: ``attention``, the
    layers inside each block's attention; ``mlp``, the rest of the block's; ``all-linear``,
    both."""
    names = {path.rsplit(".", 1)[-1]: _group(path) for path in linear_layers(model)}
    chosen = sorted(n for n, group in names.items() if targets == "all-linear" or group == targets)
    if not chosen:
        raise InputError(f"the base model has no {targets} linear layers in its numbered blocks "
                         "for tuning.targets; choose all-linear.")
    return chosen


def check_fits(settings: TuningSettings, config) -> None:
    """Refuse, from the base model's config alone (no weights are loaded), a configuration that
    cannot train: a rank above the narrowest target layer's width."""
    import torch
    from transformers import AutoModelForCausalLM

    if settings.method not in LORA_FAMILY:
        return
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    targets = target_names(skeleton, settings.targets)
    widths = {path.rsplit(".", 1)[-1]: min(layer.in_features, layer.out_features)
              for path, layer in linear_layers(skeleton).items()}
    narrowest = min(targets, key=lambda n: widths[n])
    if settings.rank > widths[narrowest]:
        raise InputError(f"tuning.rank = {settings.rank} is above the width of the base model's "
                         f"{narrowest} layers ({widths[narrowest]}); a rank can be at most the "
                         f"smaller side of the matrix it adapts. Choose --rank "
                         f"{widths[narrowest]} or less.")


# -- training ------------------------------------------------------------------------------------

def peft_config(settings: TuningSettings, model):
    """The peft configuration of ``settings.method`` for ``model`` (None for spectrum/full)."""
    import peft

    method = settings.method
    if method in LORA_FAMILY:
        targets = "all-linear" if settings.targets == "all-linear" else \
            target_names(model, settings.targets)
        return peft.LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                               lora_dropout=settings.dropout, target_modules=targets,
                               use_dora=method == "dora",
                               init_lora_weights="pissa" if method == "pissa" else True,
                               task_type="CAUSAL_LM")
    if method == "ia3":
        return _ia3_config(settings, model)
    if method == "prefix":
        return peft.PrefixTuningConfig(num_virtual_tokens=settings.prefix_tokens,
                                       task_type="CAUSAL_LM")
    return None


def _ia3_config(settings: TuningSettings, model):
    """IA3 as its paper has it: keys, values and the MLP's inner activations (the input of the
    down projection), by peft's per-architecture lists; ``targets`` keeps the attention or MLP
    part of them."""
    import peft
    from peft.utils.constants import (TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING,
                                      TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING)

    kind = model.config.model_type
    targets = TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING.get(kind)
    feedforward = TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING.get(kind)
    if targets is None:
        raise InputError(f"peft has no IA3 layer list for '{kind}' models; choose another "
                         "tuning.method.")
    groups = {path.rsplit(".", 1)[-1]: _group(path) for path in linear_layers(model)}
    keep = [t for t in targets if settings.targets == "all-linear"
            or groups.get(t) == settings.targets]
    if not keep:
        raise InputError(f"IA3 has no {settings.targets} layers in '{kind}' models; choose "
                         "tuning.targets all-linear.")
    return peft.IA3Config(target_modules=keep,
                          feedforward_modules=[f for f in feedforward if f in keep],
                          task_type="CAUSAL_LM")


def prepare(model, settings: TuningSettings, *, init_dir: Path | None = None,
            start_ids: list[int] | None = None):
    """``model`` made ready to train by ``settings.method``, and the card's record of it.

    PiSSA's starting adapter is saved to ``init_dir`` (by the main process alone, under
    ``accelerate launch``): :func:`save` needs it to write the trained adapter as a plain
    LoRA. A prefix starts as the keys and values of the tokens
    ``start_ids`` (a training prompt's start), as Li & Liang initialised it from real words: a
    random prefix of unit scale is far from anything the model has seen, and at the start of
    training makes it worse than the base model by several nats."""
    import torch
    from peft import get_peft_model

    from graftlm.tuning import spectrum

    # The new weights' initialisation is the seed's, not whatever the process drew before (a
    # second run in one process would otherwise start from other adapter weights).
    torch.manual_seed(settings.seed)
    method = settings.method
    record: dict = {"name": method}
    if method == "spectrum":
        scored = spectrum.score(model)
        chosen = spectrum.select(scored, settings.spectrum_share)
        spectrum.freeze_all_but(model, chosen)
        record.update(share=settings.spectrum_share, matrices=len(scored),
                      chosen=[{"name": s.name, "snr": round(s.snr, 6)} for s in chosen])
    elif method != "full":
        config = peft_config(settings, model)
        model = get_peft_model(model, config)
        record["config"] = _plain(config.to_dict())
        if method == "prefix" and start_ids:
            record["started_from_tokens"] = start_prefix(model, start_ids)
        if method == "pissa":
            if init_dir is None:
                raise ValueError("PiSSA needs init_dir to save its starting adapter")
            if os.environ.get("RANK", "0") == "0":  # under `accelerate launch`, the publisher
                model.save_pretrained(init_dir)
    record["trainable_parameters"] = sum(p.numel() for p in model.parameters()
                                         if p.requires_grad)
    record["parameters"] = sum(p.numel() for p in model.parameters())
    return model, record


def start_prefix(model, ids: list[int]) -> int:
    """Set a fresh prefix model's prefix to the base model's keys and values of ``ids`` (cycled
    to the prefix's length); returns how many distinct tokens it came from (0: left as peft
    made it, for a model whose cache does not map onto peft's prefix layout)."""
    import torch

    virtual = model.active_peft_config.num_virtual_tokens
    tokens = (list(ids) * (virtual // len(ids) + 1))[:virtual]
    base = model.get_base_model()
    with torch.no_grad():
        cache = base(input_ids=torch.tensor([tokens], device=base.device),
                     use_cache=True).past_key_values
        pairs = [torch.stack([layer.keys, layer.values]) for layer in cache.layers]
        # (layers*2, 1, heads, virtual, dim) → peft's (virtual, layers*2*heads*dim): the inverse
        # of the view and permute in PeftModel.get_prompt.
        rows = torch.cat(pairs).permute(1, 3, 0, 2, 4).reshape(virtual, -1)
        embedding = model.prompt_encoder[model.active_adapter].embedding.weight
        if rows.shape != embedding.shape:
            return 0
        embedding.copy_(rows.to(embedding.dtype))
    return len(set(tokens))


def _plain(value):
    """A peft config's dict with sets and enums made JSON's."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return sorted(_plain(v) for v in value) if isinstance(value, (set, frozenset)) \
            else [_plain(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (int, float, str, bool)):
        return value.value
    return value


def save(model, out: Path, settings: TuningSettings, tokenizer, *,
         init_dir: Path | None = None) -> None:
    """Write the trained ``model`` as its method's artifact files into ``out``."""
    method = settings.method
    if method == "full":
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    elif method == "spectrum":
        from safetensors.torch import save_file

        save_file({name: p.detach().cpu().contiguous() for name, p in model.named_parameters()
                   if p.requires_grad}, str(Path(out) / SPECTRUM_FILE))
    elif method == "pissa":
        with warnings.catch_warnings():  # peft's advice to convert to LoRA, which this does
            warnings.filterwarnings("ignore", "PiSSA changes the base weights")
            model.save_pretrained(out, path_initial_model_for_weight_conversion=str(init_dir))
    else:
        model.save_pretrained(out)


# -- using a trained artifact --------------------------------------------------------------------

def open_trained(base, path: Path, method: str):
    """The base model ``base`` with the artifact at ``path`` on top: a peft model, or for
    Spectrum the base with its trained matrices copied in (the originals kept for
    :func:`switched_off`)."""
    if method == "spectrum":
        return _apply_spectrum(base, Path(path))
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(base, str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"cannot load the adapter in {path}: {exc}") from exc


def _apply_spectrum(model, path: Path):
    import torch
    from safetensors.torch import load_file

    file = path / SPECTRUM_FILE
    if not file.is_file():
        raise ArtifactError(f"{file} is missing; train the adapter again.")
    trained = load_file(str(file))
    params = dict(model.named_parameters())
    unknown = sorted(set(trained) - set(params))
    if unknown:
        raise ArtifactError(f"{file} holds weights the base model lacks ({unknown[0]}, …); it "
                            "was trained on another model.")
    originals = {}
    with torch.no_grad():
        for name, value in trained.items():
            originals[name] = params[name].detach().clone()
            params[name].copy_(value.to(params[name].dtype))
    model.graft_spectrum_originals = originals
    return model


@contextmanager
def switched_off(model):
    """While active, ``model`` answers as its base model (the adapter off, or Spectrum's
    original matrices back)."""
    originals = getattr(model, "graft_spectrum_originals", None)
    if originals is None:
        with model.disable_adapter():
            yield model
        return
    import torch

    params = dict(model.named_parameters())
    trained = {name: params[name].detach().clone() for name in originals}
    with torch.no_grad():
        for name, value in originals.items():
            params[name].copy_(value)
    try:
        yield model
    finally:
        with torch.no_grad():
            for name, value in trained.items():
                params[name].copy_(value)


def merged(model, method: str, name: str = "the adapter"):
    """``model`` (from :func:`open_trained`) as a plain transformers model answering the same,
    or an error naming what to do for a method that cannot be folded into the weights."""
    if method in UNMERGEABLE:
        raise ArtifactError(f"'{name}' is a {method}-tuning adapter: its learned key/value "
                            "prefixes are inputs to attention, not a change of weights, so it "
                            "cannot be merged. Serve it with --engine local, or train with "
                            "--method lora to get a mergeable adapter.")
    if method in ("spectrum", "full"):  # the weights themselves trained
        model.__dict__.pop("graft_spectrum_originals", None)
        return model
    return model.merge_and_unload()


def for_inference(model, method: str):
    """The fastest exact form of a trained model: merged where the method folds into the
    weights; a prefix model stays as it is (callers that carry a KV cache across calls take
    its :func:`decoding_view`)."""
    return model if method in UNMERGEABLE else merged(model, method)


def decoding_view(model):
    """``model``, or for a prefix-tuned peft model with its prefix on, a :class:`PrefixView`
    of it: what a caller that carries a KV cache from call to call must call."""
    config = getattr(model, "active_peft_config", None)
    if config is None or getattr(model, "_adapters_disabled", False):
        return model
    return PrefixView(model) if str(getattr(config.peft_type, "value", "")) == "PREFIX_TUNING" \
        else model


class PrefixView:
    """A prefix-tuned peft model as a plain causal LM for step-by-step decoding.

    peft's own ``forward`` replaces any ``past_key_values`` by a fresh prefix, so a KV cache
    cannot be carried from one call to the next through it. This view calls the base model
    directly: the first call (no cache) starts the cache with the learned prefix, every call's
    attention mask gets the prefix's columns in front, and positions move past the prefix, as
    in training. Callers see only their own tokens."""

    def __init__(self, model):
        self.peft = model
        self.model = model.get_base_model()
        self.virtual = model.active_peft_config.num_virtual_tokens
        self.config, self.generation_config = self.model.config, self.model.generation_config
        self.device = self.model.device

    def parameters(self):
        return self.model.parameters()

    def eval(self):
        self.model.eval()
        return self

    def __call__(self, input_ids, attention_mask=None, position_ids=None,
                 past_key_values=None, **kwargs):
        import torch

        rows = input_ids.shape[0]
        if past_key_values is None:
            past_key_values = self.peft.get_prompt(rows)
        if attention_mask is not None:
            front = torch.ones(rows, self.virtual, dtype=attention_mask.dtype,
                               device=attention_mask.device)
            attention_mask = torch.cat([front, attention_mask], dim=1)
        if position_ids is not None:
            position_ids = position_ids + self.virtual
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          position_ids=position_ids, past_key_values=past_key_values, **kwargs)
