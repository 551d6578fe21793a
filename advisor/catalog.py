"""The signal table of ``docs/framework.md``, as data: the knowledge rows (from
:mod:`advisor.catalog_knowledge`) and here the skill, data, constraint and scope rows.

Each :class:`~advisor.signals.SignalSpec` says how a signal is recognised (wording patterns and
prototype sentences) and how it moves each strategy at full strength. The strategies are
``prompting``, ``few_shot``, ``rag``, ``lora``, ``full_ft`` and ``hybrid`` (RAG + adapter).
Data-size signals (``examples_*``, ``pretraining_corpus``) are derived from numbers by the scorer
and listed here only for their effects and titles.
"""

from __future__ import annotations

from graftlm.advisor.catalog_attempts import ATTEMPTS
from graftlm.advisor.catalog_knowledge import KNOWLEDGE
from graftlm.advisor.signals import SignalSpec, effects as _fx

CATALOG: tuple[SignalSpec, ...] = KNOWLEDGE + ATTEMPTS + (
    # --- skills --------------------------------------------------------------------------------
    SignalSpec(
        "output_format", "a required output format or schema", "skill",
        _fx(p=-0.5, f=1, r=-1, l=2, t=0.3, h=1),
        patterns=(
            r"\b(?:json|xml|yaml|csv|sql|html|markdown table|schema|iso ?8601|regex|"
            r"structured|templates?|form|fixed[- ]heading|headings|fields|keys|object|"
            r"one per line|format(?:ted)?|layout|structure|sign-off|segment strings|"
            r"(?:queries|query) (?:against|for|on) (?:our|the)|status string|"
            r"string like|line like|(?:\w+ )?\| \w+|query language|dsl|domain[- ]specific "
            r"language|\d+[- ](?:field|column|part|section)s?)\b",
            r"\b(?:the|a|our) (?:\w+ ){0,3}(?:note|format|layout|statement|template|structure|"
            r"form|report) (?:that )?(?:our|the) \w+ (?:like|prefer|expect|use|want|need|ingest)s?\b",
            r"\balways (?:opens?|starts?|begins?|ends?|closes?) with\b",
            r"\b(?:numbered|bulleted) (?:\w+ )?(?:checklists?|lists?|steps)\b|\b\w+-section\b",
            r"\binto (?:a |an |the |our )?(?:\w+ ){0,3}(?:records?|objects?|tables?|"
            r"strings?|codes?|queries|intervals|entries|rows|list)\b",
            # "as a single line: ATA chapter - defect - corrective action"
            r"\b(?:as|in|on|into) (?:a |one )?single (?:line|row|sentence)\b",
            r"\b\w+(?: \w+)? - \w+(?: \w+)? - \w+",
        ),
        prototypes=(
            "the output must be valid JSON with these fields",
            "fill in our standard template",
            "convert free text into structured records",
            "generate database queries from questions",
        ),
        negated_as="no_format", slot="format",
        unless=(
            r"\b(?:upload|export|sync|dump|import|load|attach|drop|crawl|mirror|email|send|"
            r"receiv|download|scan)\w*\b(?: (?:a|an|the|our|their|its|fresh|new|nightly|"
            r"daily|weekly|raw|[\w-]+)){0,3} (?:json|xml|yaml|csv|html|spreadsheets?|files?|"
            r"forms?)\b",
        ),
    ),
    SignalSpec(
        "no_format", "no particular format", "skill",
        _fx(p=0.8, f=-0.5, l=-0.8),
        negatable=False, slot="format",
    ),
    SignalSpec(
        "style_voice", "a style, tone or voice", "skill",
        _fx(p=-0.5, f=0.5, r=-1, l=2.5, t=0.3, h=1),
        patterns=(
            r"\b(?:tone|(?<!passive )(?<!active )voice(?! notes| memos| messages| recordings|mail)|persona|"
            r"sounds? like (?:us|our|him|her|them)|brand(?:ed)?|on-brand|"
            r"(?:the way|how) (?:our|the|a) (?:\w+ ){0,2}(?:write|writes|do it|phrase|speak|talk)s?|"
            r"phras(?:ed|ing)|worded|"
            r"house style|in the style of|style guide|\w+[- ]style\b|writers'? voice|"
            r"(?:standardi[sz]ed|approved|[\w]+-(?:approved|agreed|mandated)) (?:wording|phrasing|"
            r"language)|exact (?:[\w-]+ ){0,2}wording|"
            r"phrasing|wording (?:our|the) \w+ expects|playful|witty|grumpy|character voice)\b",
            r"\b(?:style|register(?! (?:volumes?|numbers?|books?|entr\w+|pages?|of)\b))\b",
        ),
        prototypes=(
            "replies should sound like our brand",
            "write in the voice of our character",
            "match the way our writers phrase things",
            "use the house style of our publication",
        ),
        negated_as="no_style", slot="style",
    ),
    SignalSpec(
        "no_style", "no particular style", "skill",
        _fx(p=0.8, l=-0.8),
        negatable=False, slot="style",
    ),
    SignalSpec(
        "narrow_task", "narrow classification or extraction", "skill",
        _fx(p=-0.3, f=1.2, r=-1.2, l=2, t=-0.5, h=-0.3),
        patterns=(
            r"\b(?:classif\w+|categori[sz]\w+|tag(?:s|ging)?|label (?:each|every|them|it|the)|"
            r"rout(?:e|es|ing)|(?<!before )(?<!after )(?<!ahead of )triage|assign\w* (?:one of|a|an|each|the)|sort(?:s|ed|ing)? (?:\w+ ){0,3}into|"
            r"extract\w*(?!\s*(?:[,)]|$))|pull (?:out|the)|parse|detect\w*|flag\w*|score|scoring|(?<!-)grade(?!-)|grading|"
            r"rate (?:each|every)|mark(?:ed|s)? (?:\w+ ){0,3}(?:with|as) (?:one of|a|an|our)|"
            r"map (?:\w+ ){0,3}(?:onto|to) (?:our|one of)|put (?:\w+ ){0,3}into "
            r"(?:our|one of)|reason codes?|intents?|buckets?|(?:into|to|between|among|across|which|"
            r"right|correct) (?:\w+ ){0,3}queues?)\b",
        ),
        prototypes=(
            "assign each ticket to one of our categories",
            "pull the key fields out of each document",
            "decide which queue a message belongs to",
        ),
        negated_as=None,
    ),
    SignalSpec(
        "custom_scheme", "a scheme of our own", "skill",
        _fx(p=-1.2, f=1.5, l=1.5),
        patterns=(
            r"\b(?:our|internal|custom|company|house|in-house)\b[^.;]{0,30}?\b(?:categories|labels|"
            r"codes|scheme|taxonomy|rubric|scale|bands|buckets|queues|levels|types|classes|tiers|"
            r"segments|grades|severity|format|ontology)\b",
            r"\b\d+[- ](?:\w+[- ]){0,2}(?:categories|labels|codes|queues|bands|buckets|classes|"
            r"levels|types|tiers)\b",
            r"\b(?:one of|onto) (?:our )?(?:\w+ )?(?:\d+|two|three|four|five|six|seven|eight|nine|"
            r"ten|twelve|twenty)\b",
        ),
        negated_as="generic_scheme",
        unless=(r"\b(?:these|those|the following) \d+[- ](?:[\w-]+[- ]){0,2}\w+",),
    ),
    SignalSpec(
        "generic_scheme", "common, generic categories", "scope",
        _fx(p=1.5, f=-0.3, l=-1, t=-1),
        patterns=(
            r"\b(?:broad|generic|general|standard|obvious|common) (?:buckets|categories|labels|"
            r"classes|topics)\b",
            r"\bnothing (?:\w+ ){0,2}specific to (?:us|our)\b",
            r"\bpositive\s*(?:,|/|or|and)?\s*negative\b",
        ),
        negatable=False,
    ),
    SignalSpec(
        "procedure", "a domain procedure or reasoning pattern", "skill",
        _fx(p=-1, f=0.3, r=0.3, l=2, t=0.3, h=1),
        patterns=(
            r"\bfollow(?:s|ing)? (?:our|the|a|an) (?:\w+ ){0,2}(?:protocol|procedure|guideline|"
            r"process|playbook|checklist|sop|rubric|method|policy|steps)\b",
            r"\b(?:walk|walks|walking|take|takes|taking|guide|guides|guiding|talk|talks) "
            r"(?:\w+ ){0,2}through (?:our|the|a|their) (?:[\w-]+ ){0,2}(?:procedure|process|"
            r"steps|checklist|playbook|flow|protocol|runbook)\b",
            r"\bthe way (?:our )?(?:top|best|senior|experienced|expert|star|veteran) \w+ (?:do|"
            r"does|did|would|handle it|work)\b",
            r"\b(?:step[- ]by[- ]step|reasoning|worked through|reason(?:s|ing)? like|the way "
            r"(?:our|a) \w+ (?:would|does)|diagnos\w+|remediation plan|"
            r"(?<!before )(?<!after )(?<!ahead of )triage)\b",
        ),
        prototypes=(
            "reason through the case the way our senior staff do",
            "follow our internal procedure step by step",
        ),
        negated_as=None,
    ),
    SignalSpec(
        "context_misuse", "the model misuses retrieved context", "skill",
        _fx(r=-0.5, l=0.8, h=2.5),
        patterns=(
            r"\b(?:ignor(?:es?|ing|ed)|misus(?:es?|ing|ed)|gets? confused by|struggles? with|"
            r"distracted by) "
            r"(?:\w+ ){0,3}(?:retrieved|the passages|the documents|context|search results)\b",
            r"\b(?:tried|already have|existing) (?:rag|retrieval|search)\b[^.;]{0,40}"
            r"(?:but|poor|bad|wrong|messy|fails?)",
            # "retrieval finds the right bulletin, but the model ignores it"
            r"\b(?:model|it|llm|bot|assistant) (?:still |often |just )?(?:ignores|misuses|blends in|"
            r"mixes in|mixes up|contradicts|overrides) (?:it|them|the (?:[\w-]+ )?(?:bulletins?|"
            r"passages?|documents?|chunks?|reports?|results?|sources?|context|snippets?))\b",
            r"\bdistractor (?:[\w-]+ )?(?:documents|passages|chunks|bulletins|results|pages)\b",
        ),
        prototypes=("the model ignores the retrieved passages and answers badly",),
        negated_as=None,
    ),
    # --- data ----------------------------------------------------------------------------------
    SignalSpec(
        "no_examples", "no labelled examples", "data",
        _fx(p=1.5, f=0.8, r=0.5, l=-3, t=-4, h=-2.5),
        patterns=(
            r"\b(?:no|zero|without|don'?t have|do not have|haven'?t (?:got|collected)|lack)"
            r" (?:any )?(?:\w+ )?(?:labell?ed |annotated |training |example )?(?:data|examples|"
            r"training (?:set|data)|dataset|labels|q&a|pairs|outputs|answers)\b",
            r"\b(?:nobody|no one|never) (?:\w+ ){0,2}(?:labell?ed|annotated|tagged)\b|\bunlabell?ed\b",
            r"\bnothing (?:is )?(?:labell?ed|annotated)\b",
            r"\bno (?:\w+ )?data yet\b",
        ),
        negatable=False, slot="examples",
    ),
    SignalSpec(
        "few_examples", "a handful of examples", "data",
        _fx(p=0.5, f=2.5, l=-2.5, t=-4, h=-2),
        patterns=(r"\b(?:a handful|a few (?:\w+ )?examples|a couple of (?:\w+ )?examples)\b",
                  r"\b(?:pasted|gave|sent|attached|shared|wrote|showed|have|got) (?:us |me )?"
                  r"(?:one|a single|an?) (?:\w+ ){0,2}(?:example|sample)s?\b"),
        negatable=False, slot="examples",
    ),
    SignalSpec("some_examples", "a few dozen examples", "data",
               _fx(f=1.5, l=-0.5, t=-3, h=-0.3), negatable=False, slot="examples"),
    SignalSpec("enough_examples", "hundreds to thousands of examples", "data",
               _fx(p=-1, f=-0.5, l=2, t=-1, h=1), negatable=False, slot="examples"),
    SignalSpec(
        "many_examples", "tens of thousands of examples", "data",
        _fx(p=-1.5, f=-1.5, l=2.5, t=1, h=1),
        patterns=(r"\b(?:years|decades) of (?:[\w-]+ ){0,3}(?:tickets|emails|chats|logs|"
                  r"transcripts|replies|conversations|examples|calls|recordings|readings|"
                  r"measurements|traces|footage|sensor data)\b",),
        negatable=False, slot="examples",
    ),
    SignalSpec("massive_examples", "hundreds of thousands of examples or more", "data",
               _fx(p=-2, f=-2, l=0.8, t=3.5, h=-0.5), negatable=False, slot="examples"),
    SignalSpec("pretraining_corpus", "a pretraining-scale corpus", "data",
               _fx(p=-2, f=-2, r=-1, l=-0.5, t=4, h=-1), negatable=False, slot="corpus"),
    SignalSpec(
        "no_training", "training is ruled out", "constraint",
        _fx(p=0.5, f=1, r=0.5, l=-2, t=-3, h=-1.5),
        patterns=(
            r"\b(?:no|without) (?:\w+ )?(?:budget|time|gpus?|compute|capacity) (?:for|to) "
            r"(?:re)?train\w*\b",
            r"\b(?:don'?t|do not|won'?t|cannot|can'?t) (?:want to |afford to )?(?:re)?train\b",
        ),
        negatable=False,
    ),
    # --- constraints ---------------------------------------------------------------------------
    SignalSpec(
        "latency_cost", "tight latency or cost at scale", "constraint",
        _fx(p=-0.5, f=-0.8, r=-0.5, l=1.5, t=0.3),
        patterns=(
            r"\b(?:millions|billions|\d[\d,.]*\s*(?:k|m|million|billion)?) (?:of )?(?:requests|calls|"
            r"queries|messages|documents|items|predictions) (?:a|per|each) \w+",
            r"\b(?:under|below|less than|within|<)\s*\d+\s*(?:ms|milliseconds)\b",
            r"\b(?:cheap|low[- ]cost|cost[- ]sensitive|latency|on[- ]device|edge devices?|"
            r"offline on|small(?:er)? model|tiny model|at scale|high[- ]volume|per[- ]call cost)\b",
        ),
        prototypes=("it has to run cheaply on millions of requests",
                    "responses must come back in a few milliseconds"),
        negated_as=None, slot="latency",
    ),
    SignalSpec(
        "privacy", "data must stay in-house", "constraint",
        _fx(p=-0.3, l=0.3, r=0.2),
        patterns=(
            r"\b(?:hipaa|gdpr|pii|phi|on[- ]prem\w*|air[- ]gapped|self[- ]hosted|confidential|"
            r"(?:can(?:no|')t|must not|never|not allowed to) (?:\w+ ){0,2}leave|stays? (?:in|on|"
            r"inside) (?:our|the) (?:\w+ )?(?:servers?|network|premises|cloud)|own servers|"
            r"no (?:external|third[- ]party|hosted|cloud) (?:apis?|services?|providers?))\b",
        ),
        negatable=False, slot="privacy",
    ),
    # --- scope ---------------------------------------------------------------------------------
    SignalSpec(
        "general_task", "a common task the base model already does", "scope",
        _fx(p=2.5, f=0.5, r=-1, l=-1.5, t=-2, h=-1.5),
        patterns=(
            r"\b(?:translat(?!\w+ memor)\w+|summar(?:y|ies|ise|ize|ising|izing|ised|ized)|condens\w+|recaps?|"
            r"tl;?dr|paraphras\w+|rewrit\w+|rephras\w+|proofread\w*|spelling|grammar\w*|sentiment|"
            r"simplif\w+|plain(?:er)?[- ](?:english|language)|passive voice|readability|reading level|easier to read|"
            r"which language|detect (?:the )?language|polite (?:reply|response)|"
            r"boil(?:ed)? down|bullet points|keywords?|(?:rendered|render|put|turned|turn) into "
            r"(?:plain )?(?:english|french|german|spanish|italian|portuguese|dutch|polish|"
            r"chinese|japanese|korean|arabic|russian|vietnamese|hindi|turkish))\b",
        ),
        prototypes=(
            "summarise long documents into a few sentences",
            "translate messages into English",
            "fix spelling and grammar",
            "tell whether a review is positive or negative",
        ),
        negated_as=None,
        # "engineers paste a summary of their change" names the input, not the task
        unless=(r"\b(?:paste|pastes|pasted|pasting) (?:in )?(?:a|the|their|an|his|her) "
                r"(?:short |brief )?summar\w+",),
    ),
    SignalSpec(
        "new_language_or_modality", "a new language, vocabulary or modality", "scope",
        _fx(p=-2, f=-2, r=-1, l=-0.5, t=3, h=-1),
        patterns=(
            r"\b(?:new|low[- ]resource|under[- ]resourced|indigenous|minority) (?:\w+ )?"
            r"(?:language|vocabulary|tokens?|modality|input type)\b",
            r"\b(?:continued? (?:pre-?)?training|continue pre-?training|pre-?train(?:ing|s)?(?! model| llm| weights| checkpoint| transformer| language model)|"
            r"foundation model|from scratch|new tokeni[sz]er|tokeni[sz]e (?:our|the)|"
            r"fluent in [A-Z]\w+|(?:language|notation|grammar) (?:the base model|it) "
            r"(?:barely|doesn'?t|does not)|barely (?:handles|speaks|knows)|"
            r"in-house (?:[\w-]+ ){0,2}language|(?:its|their) own (?:syntax|grammar|notation|"
            r"vocabulary|script)|(?:audio|sensor|codec|telemetry|tile)"
            r"[- ](?:\w+[- ])?(?:tokens|streams|grammar)|shares nothing with)\b",
            r"\b(?:watch\w*|listen\w*|look\w* at|see\w*|hear\w*|reads?|from|transcrib\w*) "
            r"(?:\w+ ){0,2}(?:video|audio|images?|photos?|speech|sign language|x-rays?|scans|"
            r"waveforms?|spectrograms?)\b",
            # raw signals rather than text: "ingests raw 12-lead ECG traces directly"
            r"\braw (?:[\w-]+ ){0,3}(?:traces|waveforms?|signals?|sensor (?:data|readings)|"
            r"readings|pixels|audio|time[- ]series|spectra|recordings|bytes|telemetry)\b",
            r"\b(?:our own|custom|new|special|proprietary) (?:[\w-]+ ){0,1}tokens\b",
            r"\b(?:custom|proprietary|our own|in-house|bespoke) (?:[\w-]+ ){0,2}(?:encoding|"
            r"seriali[sz]ation|notation|file format|dsl|markup|instruction set|bytecode)\b",
            r"\b(?:understands?|reads?|speaks?|writes?) (?:that |this |our |the )?(?:[\w-]+ )?"
            r"(?:notation|language|format|encoding|dialect|code) natively\b|\bnatively the way\b",
            r"\braw (?:[\w-]+ ){0,2}(?:bytes|byte sequences|binaries|opcodes|disassembly|bytecode|"
            r"dna|genomes?|(?:dna |protein |genome )?sequences?)\b|\b(?:read|reads) bytecode\b|"
            r"\b(?:different|new) kind of (?:input|data) (?:from|than) text\b|"
            r"\bdisassembled binaries\b",
            r"\b(?:models?|it|llms?) (?:can'?t|cannot|doesn'?t|does not|don'?t|do not|fail to|"
            r"struggle to) (?:really |even |properly )?(?:read|understand|handle|parse|speak|"
            r"write|know)(?: it| this| them| that| the (?:script|language|dialect|notation))\b",
            r"\b(?:early modern|middle|old|medieval|archaic|historical|classical|ancient) "
            r"(?:dutch|english|french|german|spanish|italian|norse|irish|welsh|greek|latin|"
            r"chinese|japanese|arabic|persian|high german)\b",
            r"\b(?:ecg|ekg|eeg|emg|seismic|seismometer|lidar|radar|sonar|accelerometer|"
            r"hyperspectral|mass[- ]spec\w*) (?:[\w-]+ ){0,2}(?:traces|waveforms?|signals?|"
            r"streams?|readings|recordings|data|spectra|peak lists)\b",
            r"\bseriali[sz]ed as (?:[\w-]+ )?(?:tokens?|token sequences)\b",
        ),
        prototypes=(
            "the model must learn a language it has never seen",
            "continue pretraining the model on our domain corpus",
            "teach the model a new kind of input tokens",
        ),
        negated_as=None,
    ),
    SignalSpec(
        "broad_general", "broad knowledge, open-ended reasoning or general code", "scope",
        _fx(p=2, f=0.3, r=-0.5, l=-1.5, t=-2, h=-1),
        patterns=(
            r"\b(?:(?:any|every|all) (?:school |academic )?(?:subjects?|topics?)|trivia|"
            r"general[- ]purpose (?:coding |code |chat |programming )?(?:assistant|helper|bot|"
            r"model)|whatever (?:programming )?language (?:the )?(?:user|they|people)|"
            r"open[- ]ended (?:reasoning|questions|problems)|broad (?:general |world )?"
            r"knowledge|(?:any|all) (?:kinds? of |sorts of )?(?:questions|topics) (?:about|on) "
            r"anything|(?:questions|anything) on any (?:topic|subject))\b",
        ),
        # By wording only: a prototype about "whatever language the user writes in" sat nearest
        # to descriptions of a proprietary programming language the model must learn.

        negatable=False,
    ),
    SignalSpec(
        "maximum_quality", "maximum adaptation, cost no object", "scope",
        _fx(p=-0.5, f=-0.5, l=0.3, t=1.5),
        patterns=(
            r"\b(?:(?:best|strongest) possible|every last (?:point|bit)|maximum (?:accuracy|"
            r"quality)|state of the art|(?:cost|budget|compute) is (?:not|no) (?:a |the )?"
            r"(?:concern|constraint|issue|object)|(?:training )?cost (?:is )?no object|"
            r"gpu cluster|don'?t care about (?:keeping )?general|squeeze out)\b",
        ),
        negatable=False,
    ),
)

SIGNALS = {spec.id: spec for spec in CATALOG}
KNOWLEDGE_GAP = ("fresh_knowledge", "private_documents", "grounding", "question_answering",
                 "facts_not_learned", "own_corpus")
SKILL_GAP = ("output_format", "style_voice", "narrow_task", "custom_scheme", "procedure",
             "context_misuse")
