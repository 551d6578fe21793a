"""Prefix tuning (Li & Liang 2021): learned key/value prefixes in every layer (peft).

A prefix is an input to attention, not a change of weights: it cannot be merged, so vLLM cannot
serve it and the local engine gives it a model of its own. Packed rows restart positions per
example, which a prefix shifts, so it never trains packed.
"""

from __future__ import annotations

from graftlm.tuning.methods.base import Method, plain


class Prefix(Method):
    name = "prefix"
    summary = "learned key/value prefixes in every layer (peft prefix tuning)"
    label = "prefix-tuning"
    default_rate = 1e-2  # prefixes are activations: peft's examples' rate
    packs = False
    on_vllm = None
    unmergeable = ("its learned key/value prefixes are inputs to attention, not a change of "
                   "weights")
    search = {"prefix_tokens": (8, 16, 32)}
    recipe = {"prefix_tokens": 16}

    def search_words(self, params: dict) -> list[str]:
        return [f"{params['prefix_tokens']} tokens"] if "prefix_tokens" in params else []

    def why_not_packed(self) -> str:
        return ("packed rows keep examples apart by restarting positions, and a prefix shifts "
                "them")

    def peft_config(self, settings, model):
        import peft

        return peft.PrefixTuningConfig(num_virtual_tokens=settings.prefix_tokens,
                                       task_type="CAUSAL_LM")

    def prepare(self, model, settings, *, init_dir, start_ids):
        """The prefix starts as the keys and values of the tokens ``start_ids`` (a training
        prompt's start), as Li & Liang initialised it from real words: a random prefix of unit
        scale is far from anything the model has seen, and at the start of training makes it
        worse than the base model by several nats."""
        from peft import get_peft_model

        config = self.peft_config(settings, model)
        model = get_peft_model(model, config)
        record = {"config": plain(config.to_dict())}
        if start_ids:
            record["started_from_tokens"] = start_prefix(model, start_ids)
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
