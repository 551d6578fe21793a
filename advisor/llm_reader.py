"""A stronger model reads the description: ``graft advise --reader-url URL --reader-model NAME``.

The offline advisor reads a description with its signal table and a small learned reader. Where
the user has a stronger model at hand, any OpenAI-compatible endpoint (a vLLM they run, a hosted
API), it can extract the same facts: the description goes out once with a fixed instruction and
the JSON Schema of :class:`TaskFacts` as structured output, and the facts come back. They join
the advice as signals of their own source (method ``reader``), weighed by the same rules; they do
not decide. Off by default: the advisor must stand on its own offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graftlm.advisor.scoring import examples_signal
from graftlm.advisor.signals import Hit
from graftlm.core import endpoint
from graftlm.core.errors import BackendUnavailableError

INSTRUCTION = (
    "You read how a team describes a task they want a language model to do, and extract facts "
    "for an advisor that chooses between prompting, few-shot prompting, retrieval (RAG), a LoRA "
    "adapter, full fine-tuning and RAG + adapter. Separate what they NEED the model to know or "
    "do from what they TRIED, what went wrong, and what they ask. A report that fine-tuning "
    "'does not remember' or 'makes up' facts is a need for facts (knowledge). A body of text "
    "they own (documents, emails, PDFs, a wiki, a book) is knowledge unless they say they have "
    "input -> output pairs. Use null for anything the text does not say. For each fact you set, "
    "quote the words behind it in 'evidence'.")

Change = Literal["never", "rarely", "monthly", "weekly", "daily", "realtime"]


class TaskFacts(BaseModel):
    """What a description says, as a reader model extracts it (the structured output's schema)."""

    model_config = ConfigDict(extra="forbid")

    needs_facts_from_documents: bool | None = Field(
        description="The answers need facts from documents or data the team holds.")
    facts_change: Change | None = Field(description="How often those facts change.")
    must_cite_sources: bool | None = Field(description="Answers must cite their sources.")
    labelled_examples: int | None = Field(
        description="How many input -> desired output examples they have (0 if none).")
    fixed_output_format: bool | None = Field(
        description="The output must follow a fixed format: JSON, fields, labels, a template.")
    style_or_voice: bool | None = Field(description="The output must have a particular style, "
                                        "tone or voice.")
    classification_or_extraction: bool | None = Field(
        description="The task is narrow classification, tagging, routing or extraction.")
    tried: Literal["nothing", "prompting", "retrieval", "fine_tuning"] | None = Field(
        description="The strategy they already tried.")
    failure: Literal["facts_missing_or_wrong", "format_or_behaviour_wrong", "none"] | None = Field(
        description="How what they tried fell short.")
    new_language_or_pretraining: bool | None = Field(
        description="A language or input the base model cannot read, or a pretraining-scale "
        "corpus to learn from.")
    evidence: dict[str, str] = Field(
        default_factory=dict, description="For each fact set: the words of the description "
        "behind it.")


def facts_schema() -> dict:
    """The JSON Schema sent as the structured output's format."""
    return TaskFacts.model_json_schema()


@dataclass
class ModelReader:
    """A reader model at ``url`` (an OpenAI-compatible ``/v1`` base URL) named ``model``."""

    url: str
    model: str
    api_key: str = "none"
    timeout: float = 60.0

    def extract(self, description: str) -> TaskFacts:
        """The facts of ``description``; raises :class:`BackendUnavailableError` when the
        endpoint fails or its reply does not fit the schema."""
        reply = endpoint.chat(
            endpoint.client(self.url, self.api_key, self.timeout), "the reader model",
            "--reader-url", model=self.model, temperature=0, max_tokens=600,
            messages=[{"role": "system", "content": INSTRUCTION},
                      {"role": "user", "content": description}],
            response_format={"type": "json_schema", "json_schema": {
                "name": "task_facts", "schema": facts_schema()}})
        content = reply.choices[0].message.content or ""
        try:
            return TaskFacts.model_validate(json.loads(content))
        except (ValueError, ValidationError) as exc:
            raise BackendUnavailableError(
                f"the reader model {self.model} at {self.url} replied with facts that do not "
                f"fit the schema ({str(exc).splitlines()[0]}): {content[:200]!r}. Use a model "
                "that supports structured output (response_format json_schema).") from None


def reader_hits(facts: TaskFacts) -> list[Hit]:
    """The signals the extracted facts set, each with the words the reader quoted."""
    said = facts.evidence
    out: list[Hit] = []

    def add(signal: str, field: str, strength: float = 1.0) -> None:
        out.append(Hit(signal, strength, "reader", said.get(field) or f"{field} (reader model)"))

    if facts.needs_facts_from_documents is not None:
        add("private_documents" if facts.needs_facts_from_documents else "no_knowledge_needed",
            "needs_facts_from_documents")
    if facts.facts_change is not None:
        fresh = facts.facts_change in {"weekly", "daily", "realtime"}
        add("fresh_knowledge" if fresh else "static_knowledge", "facts_change")
    if facts.must_cite_sources is not None:
        add("grounding" if facts.must_cite_sources else "no_citations", "must_cite_sources")
    if facts.labelled_examples is not None:
        add(examples_signal(facts.labelled_examples), "labelled_examples")
    if facts.fixed_output_format is not None:
        add("output_format" if facts.fixed_output_format else "no_format", "fixed_output_format")
    if facts.style_or_voice:
        add("style_voice", "style_or_voice")
    if facts.classification_or_extraction:
        add("narrow_task", "classification_or_extraction")
    if facts.tried == "fine_tuning":
        add("tried_tuning", "tried")
    if facts.failure == "facts_missing_or_wrong":
        add("facts_not_learned", "failure")
    elif facts.failure == "format_or_behaviour_wrong" and facts.tried == "retrieval":
        add("context_misuse", "failure")
    if facts.new_language_or_pretraining:
        add("new_language_or_modality", "new_language_or_pretraining")
    return out
