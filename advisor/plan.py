"""What to do next: the data to gather, the commands to run, a rough cost, and the caveats.

Everything here follows from the recommended strategy, the signals found and the configured base
model's size; the cost is an order-of-magnitude estimate with its assumptions spelled out.
"""

from __future__ import annotations

from collections.abc import Sequence

from graftlm.advisor.schema import Caveat, CostEstimate, Plan, PlanStep
from graftlm.advisor.signals import Hit
from graftlm.tuning.estimate import training_minutes

TOKENS_PER_EXAMPLE = 200
EPOCHS = 3
RAG_CHUNKS, RAG_CHUNK_TOKENS = 4, 200
SHOTS, SHOT_TOKENS = 5, 80
DEFAULT_START_EXAMPLES = 500

_DATA = {
    "prompting": ["No training data. Collect 20–50 real inputs with the outputs you expect, "
                  "as an evaluation set to test prompts against."],
    "few_shot": ["3–10 labelled examples that cover every label or format variant, for the "
                 "prompt.", "20–50 more, held out, to check the prompt."],
    "rag": ["The document collection (text, Markdown, HTML, PDF or JSONL) in one folder.",
            "30–100 real questions, each with the document that answers it, to measure "
            "retrieval and answers."],
    "lora": ["Start with 50–100 well-made input → output examples; gains usually show by "
             "50–100, and 500–5,000 make a robust adapter.",
             "Hold out 10–20% of them (at least 30) to compare adapter and base model."],
    "full_ft": ["A large in-domain corpus: hundreds of thousands of examples or 100M+ tokens.",
                "A held-out evaluation set, and general-ability checks (full tuning forgets more)."],
    "hybrid": ["The document collection, in one folder.",
               "500+ examples of the wanted answers; best made as question + retrieved passages "
               "(including some irrelevant ones) → answer, so the adapter learns to use context.",
               "A held-out set of 30–100 questions to compare base, RAG, adapter and both."],
}

_STEPS = {
    "prompting": [PlanStep(title="Prepare the base model", command="graft models prepare"),
                  PlanStep(title="Write an instruction prompt and test it on the evaluation set"),
                  PlanStep(title="Serve the base model", command="graft serve"),
                  PlanStep(title="Try it", command='graft query "<an input>" --model base')],
    "few_shot": [PlanStep(title="Prepare the base model", command="graft models prepare"),
                 PlanStep(title="Put 3–10 examples in the prompt as user/assistant turns"),
                 PlanStep(title="Serve the base model", command="graft serve"),
                 PlanStep(title="Try it", command='graft query "<an input>" --model base')],
    "rag": [PlanStep(title="Index the documents", command="graft index build ./docs --name docs"),
            PlanStep(title="Check retrieval", command='graft index query docs "<a question>"'),
            PlanStep(title="Serve with retrieval", command="graft serve --index docs"),
            PlanStep(title="Ask with citations",
                     command='graft query "<a question>" --model base+docs')],
    "lora": [PlanStep(title="Validate the examples", command="graft train --check data.jsonl"),
             PlanStep(title="Train the adapter", command="graft train data.jsonl --name task"),
             PlanStep(title="Compare with the base model",
                      command="graft eval adapter task --data heldout.jsonl"),
             PlanStep(title="Serve it", command="graft serve --adapter task")],
    "full_ft": [PlanStep(title="Validate the corpus", command="graft train --check corpus.jsonl"),
                PlanStep(title="Fine-tune all weights",
                         command="graft train corpus.jsonl --name task --full"),
                PlanStep(title="Compare with the base model",
                         command="graft eval adapter task --data heldout.jsonl")],
    "hybrid": [PlanStep(title="Index the documents", command="graft index build ./docs --name docs"),
               PlanStep(title="Validate the examples", command="graft train --check data.jsonl"),
               PlanStep(title="Train the adapter", command="graft train data.jsonl --name task"),
               PlanStep(title="Serve both", command="graft serve --adapter task --index docs"),
               PlanStep(title="Ask with citations",
                        command='graft query "<a question>" --model task+docs')],
}


def make_plan(strategy: str, hits: Sequence[Hit], examples: int | None, corpus_tokens: float | None,
              base_name: str, base_parameters: int | None, train_tflops: float) -> Plan:
    """The plan for ``strategy`` on the configured base model."""
    data = list(_DATA[strategy])
    steps = list(_STEPS[strategy])
    if examples is not None and strategy in {"lora", "hybrid", "few_shot", "full_ft"}:
        data.insert(0, f"You mention about {examples:,} labelled examples.")
    if strategy in {"prompting", "few_shot"} and any(h.signal == "broad_general" for h in hits):
        # LoRA Land: prompted GPT-4 beat every tuned 7B on broad-knowledge exams, science
        # reasoning and general code; a small base model is the wrong one to prompt there.
        data.insert(0, "Broad knowledge, open-ended reasoning or general code: prompt a strong "
                    "general model rather than tuning a small one.")
        steps.insert(0, PlanStep(
            title="Measure a strong general model against the small one on your examples",
            command="graft advise \"<task>\" --measure --examples data.jsonl "
                    "--compare URL --compare-model NAME --compare-price IN,OUT"))
    return Plan(strategy=strategy, data=data, steps=steps,
                cost=estimate_cost(strategy, examples, corpus_tokens, base_name, base_parameters,
                                   train_tflops))


def estimate_cost(strategy: str, examples: int | None, corpus_tokens: float | None,
                  base_name: str, params: int | None, train_tflops: float) -> CostEstimate:
    """Order-of-magnitude training time and memory, and the prompt tokens added per request.

    Training compute is about 6·N FLOPs per token for full fine-tuning and about 4·N for LoRA
    (no weight gradients for the frozen base); memory is the bf16 weights for LoRA, and weights,
    gradients and Adam states (about 16 bytes a parameter) for full fine-tuning.
    """
    assumptions = []
    extra = {"rag": RAG_CHUNKS * RAG_CHUNK_TOKENS, "hybrid": RAG_CHUNKS * RAG_CHUNK_TOKENS,
             "few_shot": SHOTS * SHOT_TOKENS}.get(strategy, 0)
    if strategy in {"rag", "hybrid"}:
        assumptions.append(f"{RAG_CHUNKS} retrieved chunks of ~{RAG_CHUNK_TOKENS} tokens each")
    if strategy == "few_shot":
        assumptions.append(f"{SHOTS} examples of ~{SHOT_TOKENS} tokens in the prompt")
    train = strategy in {"lora", "full_ft", "hybrid"}
    if not train or params is None:
        if train:
            assumptions.append("the base model's size is unknown, so training cost is not given")
        return CostEstimate(base_model=base_name, base_parameters=params,
                            extra_prompt_tokens=extra, assumptions=assumptions)
    n = examples if examples else DEFAULT_START_EXAMPLES
    if strategy == "full_ft" and corpus_tokens:
        tokens, n = int(corpus_tokens), None
        assumptions.append("one pass over the corpus")
    else:
        n = min(n, 100_000_000)
        tokens = n * TOKENS_PER_EXAMPLE * EPOCHS
        assumptions.append(f"{n:,} examples × ~{TOKENS_PER_EXAMPLE} tokens × {EPOCHS} epochs")
    minutes = training_minutes(tokens, params, train_tflops, full=strategy == "full_ft")
    memory = params * (16 if strategy == "full_ft" else 2) / 1e9 + 1.0
    assumptions.append(f"{train_tflops:g} TFLOP/s sustained (setting advisor.train_tflops)")
    return CostEstimate(base_model=base_name, base_parameters=params, train_examples=n,
                        train_tokens=tokens, train_minutes=round(minutes, 1),
                        train_memory_gb=round(memory, 1), extra_prompt_tokens=extra,
                        assumptions=assumptions)


_EVIDENCE = {
    "facts_change": ("Facts that change belong in retrieval, not in weights: on 910 post-cutoff "
                     "questions, fine-tuning scored 0.50–0.51 and RAG 0.875.",
                     "Ovadia et al. 2023, arXiv 2312.05934"),
    "no_facts_in_weights": ("Don't fine-tune to teach facts the base model doesn't know: they are "
                            "learned slowly and raise hallucination. Retrieve them instead.",
                            "Gekhman et al. 2024, arXiv 2405.05904"),
    "citations_need_rag": ("Tuning alone does not teach citation: correct citation was 0.9% after "
                           "fine-tuning, 83.7% with RAG, 87.5% with both.",
                           "community 2×2 benchmark, NehaBharti08/rag-vs-finetune"),
    "narrow_tasks_lora": ("Small LoRA-tuned models beat large prompted ones on narrow tasks "
                          "(+34 points over base on average across 31 tasks), though prompting "
                          "still won 6 of 31: measure against the prompt first.",
                          "LoRA Land, Zhao et al. 2024, arXiv 2405.00732"),
    "start_small": ("Build the evaluation set first; start tuning with ~50 well-made examples "
                    "and expect gains by 50–100.", "OpenAI fine-tuning guide"),
    "lora_recipe": ("Put LoRA on all linear layers, with a learning rate about 10× that of full "
                    "fine-tuning and enough rank for the data.",
                    "LoRA Without Regret, Thinking Machines 2025"),
    "lora_forgets_less": ("LoRA learns less but forgets less; full fine-tuning pays off only with "
                          "large, pretraining-like data.", "Biderman et al. 2024, arXiv 2405.09673"),
    "gaps_add_up": ("Skill and knowledge gains add up: fine-tuning gave +6 points and RAG +5 more.",
                    "Balaguer et al. 2024, arXiv 2401.08406"),
    "raft": ("Train the adapter on questions with retrieved passages, distractors included, so it "
             "learns to use context (+35 points on HotpotQA over base + RAG).",
             "RAFT, Zhang et al. 2024, arXiv 2403.10131"),
    "too_few_to_tune": ("With only a handful of examples, tuning will overfit: put them in the "
                        "prompt and collect more before training.", "OpenAI fine-tuning guide"),
    "prompt_first": ("Prompting costs nothing and survives model upgrades; it is the baseline "
                     "every other strategy must beat on a held-out set.", "docs/framework.md"),
    "keep_local": ("Data must stay in-house: index and adapters are built and served on your own "
                   "machines, with no hosted API in the loop.", "docs/framework.md"),
    "merge_for_latency": ("A LoRA adapter can be merged into the base weights: no added latency, "
                          "and a small tuned model is cheap to serve at volume.",
                          "docs/framework.md (PEFT families)"),
}


def caveats_for(strategy: str, hits: Sequence[Hit]) -> list[Caveat]:
    """The evidence-backed caveats that apply to this recommendation and these signals."""
    found = {h.signal for h in hits}
    keys: list[str] = []
    knowledge = found & {"fresh_knowledge", "private_documents", "grounding",
                         "facts_not_learned", "own_corpus"}
    if "fresh_knowledge" in found:
        keys.append("facts_change")
    if knowledge and strategy in {"lora", "full_ft", "prompting", "few_shot"}:
        keys.append("no_facts_in_weights")
    if "grounding" in found:
        keys.append("citations_need_rag")
    if strategy in {"lora", "hybrid"}:
        keys += ["narrow_tasks_lora", "start_small", "lora_recipe"]
    if strategy == "hybrid":
        keys += ["gaps_add_up", "raft"]
    if strategy == "full_ft":
        keys.append("lora_forgets_less")
    if strategy in {"prompting", "few_shot"}:
        keys.append("prompt_first")
    if found & {"few_examples", "some_examples"} and strategy not in {"lora", "full_ft"}:
        keys.append("too_few_to_tune")
    if "privacy" in found:
        keys.append("keep_local")
    if "latency_cost" in found and strategy in {"lora", "hybrid", "full_ft"}:
        keys.append("merge_for_latency")
    return [Caveat(id=k, text=_EVIDENCE[k][0], evidence=_EVIDENCE[k][1])
            for k in dict.fromkeys(keys)]
