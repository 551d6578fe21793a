"""Full fine-tuning and Spectrum: methods that train the model's own weights.

Spectrum (Hartford et al. 2024) trains the highest signal-to-noise weight matrices of each
module type in full and freezes the rest (:mod:`tuning.spectrum` scores and chooses them). Its
artifact holds only the matrices it trained; opening it copies them over the base's, keeping
the originals so the base can be switched back on.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from graftlm.core.errors import ArtifactError
from graftlm.tuning.spectrum import freeze_all_but, score, select
from graftlm.tuning.methods.base import Method

SPECTRUM_FILE = "spectrum.safetensors"


class Full(Method):
    name = "full"
    summary = "every weight"
    trains_base = starts_as_base = True
    on_4bit_base = False
    is_model = True
    searchable = False

    def prepare(self, model, settings, *, init_dir, start_ids):
        return model, {}

    def save(self, model, out: Path, settings, tokenizer, *, init_dir) -> None:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)

    def merge(self, model, name: str = "the adapter"):
        return model  # the weights themselves trained


class Spectrum(Full):
    name = "spectrum"
    summary = "the highest signal-to-noise weight matrices, in full; the rest frozen"
    is_model = False
    searchable = True
    search = {"spectrum_share": (0.125, 0.25, 0.5)}
    recipe = {"spectrum_share": 0.25}

    def search_words(self, params: dict) -> list[str]:
        return [f"{params['spectrum_share']:.0%}"] if "spectrum_share" in params else []

    def prepare(self, model, settings, *, init_dir, start_ids):
        scored = score(model)
        chosen = select(scored, settings.spectrum_share)
        freeze_all_but(model, chosen)
        return model, {"share": settings.spectrum_share, "matrices": len(scored),
                       "chosen": [{"name": s.name, "snr": round(s.snr, 6)} for s in chosen]}

    def notes(self, record: dict) -> list[str]:
        """What Spectrum chose, a line per module type: the layers and their scores."""
        by_kind: dict[str, list[tuple[str, float]]] = {}
        for item in record["chosen"]:
            layer, _, kind = item["name"].partition(".layers.")[2].partition(".")
            by_kind.setdefault(kind.removesuffix(".weight"), []).append((layer, item["snr"]))
        lines = [f"spectrum: training {len(record['chosen'])} of {record['matrices']} weight "
                 f"matrices (the top {record['share']:.0%} of each type by signal-to-noise), "
                 f"{record['trainable_parameters']:,} parameters"]
        for kind, picks in by_kind.items():
            lines.append(f"  {kind}: layers " + ", ".join(f"{layer} ({snr:.3g})"
                                                          for layer, snr in picks))
        return lines

    def save(self, model, out: Path, settings, tokenizer, *, init_dir) -> None:
        from safetensors.torch import save_file

        save_file({name: p.detach().cpu().contiguous() for name, p in model.named_parameters()
                   if p.requires_grad}, str(Path(out) / SPECTRUM_FILE))

    def open(self, base, path: Path):
        import torch
        from safetensors.torch import load_file

        file = Path(path) / SPECTRUM_FILE
        if not file.is_file():
            raise ArtifactError(f"{file} is missing; train the adapter again.")
        trained = load_file(str(file))
        params = dict(base.named_parameters())
        unknown = sorted(set(trained) - set(params))
        if unknown:
            raise ArtifactError(f"{file} holds weights the base model lacks ({unknown[0]}, …); "
                                "it was trained on another model.")
        originals = {}
        with torch.no_grad():
            for name, value in trained.items():
                originals[name] = params[name].detach().clone()
                params[name].copy_(value.to(params[name].dtype))
        base.graft_spectrum_originals = originals
        return base

    @contextmanager
    def switched_off(self, model):
        import torch

        originals = model.graft_spectrum_originals
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

    def merge(self, model, name: str = "the adapter"):
        model.__dict__.pop("graft_spectrum_originals", None)
        return model
