"""The signal table of ``FRAMEWORK.md``, as data.

Each :class:`~advisor.signals.SignalSpec` says how a signal is recognised (wording patterns and
prototype sentences) and how it moves each strategy at full strength. The strategies are
``prompting``, ``few_shot``, ``rag``, ``lora``, ``full_ft`` and ``hybrid`` (RAG + adapter).
Data-size signals (``examples_*``, ``pretraining_corpus``) are derived from numbers by the scorer
and listed here only for their effects and titles.
"""

from __future__ import annotations

from advisor.signals import SignalSpec


def _fx(p=0.0, f=0.0, r=0.0, l=0.0, t=0.0, h=0.0) -> dict[str, float]:  # noqa: E741
    return {"prompting": p, "few_shot": f, "rag": r, "lora": l, "full_ft": t, "hybrid": h}


_FREQ = (r"(?:hourly|daily|nightly|weekly|fortnightly|monthly|quarterly|annually|yearly|constantly|"
         r"frequently|regularly|all the time|often|every (?:\w+ ){0,2}(?:hour|day|week|fortnight|"
         r"month|quarter|year|sprint|release|season|semester|term|monday|tuesday|wednesday|"
         r"thursday|friday)s?|each (?:hour|day|week|month|quarter|year|sprint|release|season)|"
         r"(?:once|twice|\w+ times) (?:a|per) (?:day|week|month|quarter)|a lot|all year)")
_CHANGE = (r"(?:updat\w*|chang\w*|refresh\w*|revis\w*|reissu\w*|republish\w*|rewritt\w*|shift\w*|"
           r"rotat\w*|mov\w*|evolv\w*|land\w*|ship\w*|releas\w*|publish\w*|add\w*|expir\w*|"
           r"come out|arriv\w*|new|fluctuat\w*)")
_DOCS = (r"(?:docs|documents?|documentation|wiki|handbook|manuals?|polic(?:y|ies)(?: wording)?|"
         r"knowledge ?base|kb|contracts?|catalog(?:ue)?|faqs?|playbooks?|runbooks?|sops|"
         r"spec(?:ification)? sheets?|specs|formulary|ordinances?|regulations?|statutes?|case law|"
         r"database|archive|intranet|confluence|sharepoint|price (?:sheet|list)s?|patch notes|"
         r"syllabi|syllabus|release notes|tariff schedule|product (?:pages|data|sheets)|"
         r"standards?|procedures manual|guidance|filings|records|papers|articles|reports|"
         r"notes|tickets|incident writeups|feed)")

CATALOG: tuple[SignalSpec, ...] = (
    # --- knowledge -----------------------------------------------------------------------------
    SignalSpec(
        "fresh_knowledge", "knowledge that changes", "knowledge",
        _fx(p=-1, f=-0.5, r=3, l=-1.5, t=-2, h=1.5),
        patterns=(
            rf"\b{_CHANGE}\b[^.;]{{0,40}}?\b{_FREQ}",
            rf"\b{_FREQ}\b[^.;]{{0,25}}?\b{_CHANGE}\b",
            rf"\b{_CHANGE}\s+(?:\w+\s+){{0,2}}?(?:every|each|with (?:each|every)) \w+",
            r"\b(?:valid|true|correct|in force|available) (?:today|right now|as of today|at the "
            r"moment)\b|\b(?:out of date|outdated|stale) (?:within|after|in) ",
            r"\b(?:today'?s|this (?:week|month|season|semester|quarter|year|term)'?s?|latest|"
            r"up[- ]to[- ]the[- ]minute|up[- ]to[- ]date|real[- ]time|breaking news|"
            r"current(?:ly)? (?:\w+ )?(?:prices?|rates?|stock|inventory|regulations?|rules|polic"
            r"(?:y|ies)|schedules?|versions?|balance|status|figures|data|deadlines?|tariffs?|terms|"
            r"catalog(?:ue)?|menu|offers?|promotions?|availability|patch|events|law|guidance|"
            r"portfolio|stock status|lineup|roster|fees|timetables?)|"
            r"live (?:data|prices|catalog(?:ue)?|inventory|stock|feeds?|rates|figures|scores|"
            r"availability))\b",
            r"\b(?:stock|prices?|rates|inventory|availability) (?:levels? )?(?:shifts?|moves?|"
            r"changes?|fluctuates?)\b",
            r"\b(?:never|not) (?:be )?(?:out of date|stale)\b",
        ),
        prototypes=(
            "the information changes every week",
            "prices and stock levels are updated daily",
            "answers must reflect the latest version of the documents",
            "new products and rules are added all the time",
            "the figures are refreshed every hour",
            "the content is revised every release",
        ),
        negated_as="static_knowledge", slot="freshness",
    ),
    SignalSpec(
        "static_knowledge", "knowledge that does not change", "knowledge",
        _fx(r=-0.8, l=0.4, h=-0.5),
        patterns=(
            r"\b(?:never|rarely|seldom|hardly ever|doesn'?t|does not|don'?t|do not|won'?t|"
            r"will not)\s+(?:\w+\s+){0,2}(?:change|changes|get updated|updated?|revised?)\b",
            r"\b(?:has|have) (?:been|stayed|remained) (?:stable|unchanged|the same|fixed)\b",
            r"\b(?:stable|static|frozen|unchanging|unchanged|settled)\b[^.;]{0,20}\b(?:for years|"
            r"since|content|corpus|schema|rules)\b",
        ),
        negatable=False, slot="freshness",
    ),
    SignalSpec(
        "private_documents", "proprietary or domain documents", "knowledge",
        _fx(p=-1.5, f=-1, r=3, l=-1, t=-1.5, h=1.5),
        patterns=(
            rf"\b(?:our|internal|in-house|company'?s?|corporate|proprietary|private|the firm'?s|"
            rf"the hospital'?s|the bank'?s|the county'?s?|the city'?s?|the state'?s?|"
            rf"the agency'?s?|our own)\b[^.;]{{0,25}}?\b{_DOCS}\b",
            r"\b(?:handbook|wiki|knowledge ?base|formulary|ordinances?|statutes?|case law|"
            r"runbooks?|playbooks?|patch notes|price (?:sheet|list)|spec(?:ification)? sheets?|"
            r"product manuals?|documentation|tariff schedule|syllabi|release notes|"
            r"policy wording|contracts we hold|regulation paragraph)\b",
            r"\b(?:sheets|documents|docs|files|records|reports|manuals|pdfs|binders?|archives?|"
            r"notes|permits|filings|aids|collections?) (?:that )?we (?:keep|hold|maintain|store|"
            r"own|publish|have on file)\b",
            r"\bwe (?:hold|keep|maintain|store|have) (?:\w+ ){0,3}(?:digiti[sz]ed|scanned|"
            r"archived|internal|historical) \w+",
            r"\b(?:years|decades) of (?:\w+ ){0,3}(?:reports|permits|records|filings|documents|"
            r"manuals|minutes|papers|archives)\b",
            r"\b(?:answers?|replies|draws?|responds?|pulls?) (?:\w+ ){0,3}(?:from|using|based on|"
            r"grounded in) (?:our|the|their|its) (?:\w+ ){0,3}" + _DOCS + r"\b",
        ),
        prototypes=(
            "answer questions using our internal documentation",
            "staff ask about the employee handbook",
            "look things up in the company knowledge base",
            "the assistant must know what is in our product manuals",
            "search across the contracts we hold",
            "the bot answers from our policy documents",
        ),
        negated_as="no_knowledge_needed", slot="documents",
    ),
    SignalSpec(
        "grounding", "must cite or be grounded in sources", "knowledge",
        _fx(p=-1, f=-0.5, r=2.5, l=-1, t=-1.5, h=1.5),
        patterns=(
            r"\b(?:cites?|citing|citations?|(?<!open[- ])(?<!open )sources?(?! code)|"
            r"reference (?:the|each|every|its)|with references|referencing|provenance|traceab\w+|auditab\w+|audit trail|"
            r"verifiab\w+|attribut\w+)\b",
            r"\b(?:quote|quotes|quoting|show|shows|showing|point to|points to|pinned to|"
            r"link to|name|names|see) (?:\w+ ){0,3}(?:section|clause|paragraph|page|passage|"
            r"heading|article|guideline|rule|text|ordinance|document|case law|regulation)s?\b",
            r"\b(?:grounded in|based only on|come from|comes from|taken from) (?:the |our |those "
            r"|these |its )?(?:\w+ ){0,3}(?:documents?|reports?|sheets?|sources?|records|texts?|"
            r"manuals?|policy|policies|regulations?|files)\b",
            r"\b(?:pointed|point|points|link|links|linked) to (?:the )?(?:right |exact |relevant )?"
            r"(?:\w+ ){0,2}(?:collection|box|document|record|file|section|page|source|entry)\b",
            r"\bwith the (?:\w+ ){0,2}(?:number|id|reference|page|link) (?:it|they|of the)?",
            r"\bwhere (?:it|they|the answer) (?:got|gets|found|came from)",
            r"\b(?:backs?|backed|supports?|supported|justif\w+) (?:\w+ ){0,2}(?:each|every|the) "
            r"(?:answer|claim|statement|response)",
            r"\b(?:which|what) (?:\w+ ){0,3}(?:it|they|the answer) (?:relied|relies|is based|came|"
            r"comes) ",
            r"\b(?:no|never|don'?t|must not|mustn'?t|cannot) (?:\w+ ){0,2}(?:hallucinat\w+|make "
            r"(?:things|stuff|facts) up|invent\w*|fabricat\w+)",
        ),
        prototypes=(
            "every answer must say which document it came from",
            "show the passage that supports each answer",
            "answers must be traceable to the source text",
            "include a reference to the section used",
        ),
        negated_as="no_citations", slot="citations",
    ),
    SignalSpec(
        "no_citations", "sources not needed", "knowledge",
        _fx(r=-0.7, h=-0.5),
        negatable=False, slot="citations",
    ),
    SignalSpec(
        "question_answering", "answering questions from a body of knowledge", "knowledge",
        _fx(p=-0.5, r=1.5, l=-0.3, h=0.5),
        patterns=(
            r"\b(?:ask(?:s|ing)? (?:\w+ ){0,3}(?:about|things like|questions)|questions? about|"
            r"look(?:s|ing)? up|query (?:across|over)|search(?:es|ing)? (?:across|through|over)|"
            r"digs? through|help ?bot|chat ?bot|q&a bot|helpline|help desk bot|"
            r"answers? (?:\w+ ){0,2}questions)\b",
        ),
        prototypes=(
            "employees ask questions about benefits",
            "a chatbot that answers customer questions",
            "look up information in a large collection",
        ),
        negated_as=None,
    ),
    SignalSpec(
        "no_knowledge_needed", "no outside knowledge needed", "knowledge",
        _fx(p=1, f=0.3, r=-2.5, l=0.3, h=-2),
        patterns=(
            r"\b(?:no|without|doesn'?t need|does not need|don'?t need|won'?t need) (?:any )?"
            r"(?:\w+ )?(?:lookup|look-up|retrieval|knowledge|lore|background|context|documents|"
            r"docs|facts)(?: (?:lookup|look-up|needed|required))?\b",
            r"\b(?:doesn'?t|does not|don'?t|do not|never) (?:need to )?(?:know|reference|references"
            r"|look up|mention)s? (?:anything|any|outside|world|external)\b",
            r"\beverything (?:\w+ ){0,3}(?:is|are) (?:already )?in the (?:\w+ ){0,2}(?:input|text|"
            r"instructions|prompt|email|message|document|transcript|notes?|request)\b",
            r"\b(?:shouldn'?t|should not|must not|mustn'?t|never) add (?:any )?(?:new )?"
            r"(?:facts|information|content)\b",
            r"\bgiven the (?:\w+ ){0,4}(?:answer|text|facts|data|input)\b",
            r"\bnothing (?:else )?to look up\b|\b(?:facts|information|content) (?:all )?(?:come|"
            r"comes) from the (?:\w+ ){0,2}(?:itself|input|note|text|email|message|request)\b",
            r"\bnothing (?:\w+ ){0,2}(?:specific|particular|proprietary) to (?:us|our)",
        ),
        negatable=False, slot="documents",
    ),
    # --- skills --------------------------------------------------------------------------------
    SignalSpec(
        "output_format", "a required output format or schema", "skill",
        _fx(p=-0.5, f=1, r=-1, l=2, t=0.3, h=1),
        patterns=(
            r"\b(?:json|xml|yaml|csv|sql|html|markdown table|schema|iso ?8601|regex|"
            r"structured|templates?|form|fixed[- ]heading|headings|fields|keys|object|"
            r"one per line|format(?:ted)?|layout|structure|sign-off|segment strings|"
            r"(?:queries|query) (?:against|for|on) (?:our|the)|status string|"
            r"string like|line like|(?:\w+ )?\| \w+)\b",
            r"\b(?:the|a|our) (?:\w+ ){0,3}(?:note|format|layout|statement|template|structure|"
            r"form|report) (?:that )?(?:our|the) \w+ (?:like|prefer|expect|use|want|need|ingest)s?\b",
            r"\balways (?:opens?|starts?|begins?|ends?|closes?) with\b",
            r"\binto (?:a |an |the |our )?(?:\w+ ){0,3}(?:records?|objects?|tables?|"
            r"strings?|codes?|queries|intervals|entries|rows|list)\b",
        ),
        prototypes=(
            "the output must be valid JSON with these fields",
            "fill in our standard template",
            "convert free text into structured records",
            "generate database queries from questions",
        ),
        negated_as="no_format", slot="format",
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
            r"\b(?:tone|voice(?! notes| memos| messages| recordings|mail)|persona|"
            r"sounds? like (?:us|our|him|her|them)|brand(?:ed)?|on-brand|"
            r"(?:the way|how) (?:our|the|a) (?:\w+ ){0,2}(?:write|writes|do it|phrase|speak|talk)s?|"
            r"phras(?:ed|ing)|worded|"
            r"house style|in the style of|style guide|\w+[- ]style\b|writers'? voice|"
            r"(?:standardi[sz]ed|approved|compliance-approved) (?:wording|phrasing|language)|"
            r"phrasing|wording (?:our|the) \w+ expects|playful|witty|grumpy|character voice)\b",
            r"\b(?:style|register)\b",
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
            r"rout(?:e|es|ing)|triage|assign\w* (?:one of|a|an|each|the)|sort (?:\w+ )?into|"
            r"extract\w*|pull (?:out|the)|parse|detect\w*|flag\w*|score|scoring|(?<!-)grade(?!-)|grading|"
            r"rate (?:each|every)|mark(?:ed|s)? (?:\w+ ){0,3}(?:with|as) (?:one of|a|an|our)|"
            r"map (?:\w+ ){0,3}(?:onto|to) (?:our|one of)|put (?:\w+ ){0,3}into "
            r"(?:our|one of)|reason codes?|intents?|queues?|buckets?)\b",
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
    ),
    SignalSpec(
        "generic_scheme", "common, generic categories", "scope",
        _fx(p=1.5, f=-0.3, l=-1, t=-1),
        patterns=(
            r"\b(?:broad|generic|general|standard|obvious|common) (?:buckets|categories|labels|"
            r"classes|topics)\b",
            r"\bnothing (?:\w+ ){0,2}specific to (?:us|our)\b",
            r"\bpositive(?:,|/| or| and)? ?negative\b",
        ),
        negatable=False,
    ),
    SignalSpec(
        "procedure", "a domain procedure or reasoning pattern", "skill",
        _fx(p=-1, f=0.3, r=0.3, l=2, t=0.3, h=1),
        patterns=(
            r"\bfollow(?:s|ing)? (?:our|the|a|an) (?:\w+ ){0,2}(?:protocol|procedure|guideline|"
            r"process|playbook|checklist|sop|rubric|method|policy|steps)\b",
            r"\b(?:step[- ]by[- ]step|reasoning|worked through|reason(?:s|ing)? like|the way "
            r"(?:our|a) \w+ (?:would|does)|diagnos\w+|remediation plan|triage)\b",
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
            r"\b(?:ignores?|misuses?|gets? confused by|struggles? with|distracted by) "
            r"(?:\w+ ){0,3}(?:retrieved|the passages|the documents|context|search results)\b",
            r"\b(?:tried|already have|existing) (?:rag|retrieval|search)\b[^.;]{0,40}"
            r"(?:but|poor|bad|wrong|messy|fails?)",
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
        patterns=(r"\b(?:a handful|a few (?:\w+ )?examples|a couple of (?:\w+ )?examples)\b",),
        negatable=False, slot="examples",
    ),
    SignalSpec("some_examples", "a few dozen examples", "data",
               _fx(f=1.5, l=-0.5, t=-3, h=-0.3), negatable=False, slot="examples"),
    SignalSpec("enough_examples", "hundreds to thousands of examples", "data",
               _fx(p=-1, f=-0.5, l=2, t=-1, h=1), negatable=False, slot="examples"),
    SignalSpec(
        "many_examples", "tens of thousands of examples", "data",
        _fx(p=-1.5, f=-1.5, l=2.5, t=1, h=1),
        patterns=(r"\byears of (?:\w+ ){0,3}(?:tickets|emails|chats|logs|transcripts|replies|"
                  r"conversations|examples|calls)\b",),
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
            r"simplif\w+|plain(?:er)? (?:english|language)|reading level|easier to read|"
            r"which language|detect (?:the )?language|polite (?:reply|response)|"
            r"boil(?:ed)? down|bullet points|keywords?)\b",
        ),
        prototypes=(
            "summarise long documents into a few sentences",
            "translate messages into English",
            "fix spelling and grammar",
            "tell whether a review is positive or negative",
        ),
        negated_as=None,
    ),
    SignalSpec(
        "new_language_or_modality", "a new language, vocabulary or modality", "scope",
        _fx(p=-2, f=-2, r=-1, l=-0.5, t=3, h=-1),
        patterns=(
            r"\b(?:new|low[- ]resource|under[- ]resourced|indigenous|minority) (?:\w+ )?"
            r"(?:language|vocabulary|tokens?|modality|input type)\b",
            r"\b(?:continued? (?:pre-?)?training|continue pre-?training|pre-?train\w*|"
            r"foundation model|from scratch|new tokeni[sz]er|tokeni[sz]e (?:our|the)|"
            r"fluent in [A-Z]\w+|(?:language|notation|grammar) (?:the base model|it) "
            r"(?:barely|doesn'?t|does not)|barely (?:handles|speaks|knows)|"
            r"in-house (?:programming )?language|(?:audio|sensor|codec|telemetry|tile)"
            r"[- ](?:\w+[- ])?(?:tokens|streams|grammar)|shares nothing with)\b",
            r"\b(?:watch\w*|listen\w*|look\w* at|see\w*|hear\w*|reads?|from|transcrib\w*) "
            r"(?:\w+ ){0,2}(?:video|audio|images?|photos?|speech|sign language|x-rays?|scans|"
            r"waveforms?|spectrograms?)\b",
        ),
        prototypes=(
            "the model must learn a language it has never seen",
            "continue pretraining the model on our domain corpus",
            "teach the model a new kind of input tokens",
        ),
        negated_as=None,
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
KNOWLEDGE_GAP = ("fresh_knowledge", "private_documents", "grounding", "question_answering")
SKILL_GAP = ("output_format", "style_voice", "narrow_task", "custom_scheme", "procedure",
             "context_misuse")
