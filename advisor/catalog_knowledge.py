"""The knowledge rows of the signal table (``docs/framework.md``): facts the model lacks or that change.

Knowledge gaps point to retrieval: knowledge that changes, private documents, answers that must
be grounded in or cite sources, question answering over a collection. The skill, data,
constraint and scope rows are in :mod:`advisor.catalog`, which assembles the whole table.
"""

from __future__ import annotations

from graftlm.advisor.signals import SignalSpec, effects as _fx

_FREQ = (r"(?:hourly|daily|nightly|weekly|fortnightly|monthly|quarterly|annually|yearly|constantly|"
         r"frequently|regularly|all the time|often|every (?:\w+ ){0,2}(?:hour|day|week|fortnight|"
         r"month|quarter|year|sprint|release|season|semester|term|night|morning|evening|"
         r"monday|tuesday|wednesday|"
         r"thursday|friday)s?|each (?:hour|day|week|month|quarter|year|sprint|release|season)|"
         r"(?:once|twice|\w+ times) (?:a|per) (?:day|week|month|quarter)|a lot|all year|"
         r"every (?:\d+|few|couple of|\w+) (?:min(?:ute)?s?|hours?|seconds|secs)|on a rolling basis|"
         r"continually|periodically|now and then|from time to time|every so often|occasionally|"
         r"(?:each|every) (?:\w+ )?(?:cycle|round|intake|session|season))")
# A schedule for loading documents is a schedule of change: what is loaded every night is
# knowledge that the model's weights would hold stale by morning.
_LOAD = (r"(?:crawl\w*|scrap\w*|sync\w*|pulls?|pulled|pulling|load\w*|import\w*|ingest\w*|"
         r"(?:re-?)?export\w*|fetch\w*|mirror\w*|dump\w*|re-?index\w*|harvest\w*|download\w*|"
         r"upload\w*|copied|copies|refresh\w*)")
_WHEN = (r"(?:overnight|nightly|hourly|daily|weekly|every (?:night|morning|evening|day|hour|"
         r"week|monday|friday)|each (?:night|morning|day|week)|at (?:midnight|dawn|\d{1,2}(?::\d\d)?"
         r" ?(?:am|pm))|every (?:\d+|few|couple of|\w+) (?:min(?:ute)?s?|hours?|seconds|secs)|"
         r"live|in real[- ]time|continuously|as \w+ (?:come|comes|arrive|arrives|happen|land)s?)")
_CHANGE = (r"(?:updat\w*|chang\w*|refresh\w*|revis\w*|reissu\w*|republish\w*|rewritt\w*|shift\w*|"
           r"redraw\w*|redrawn|afresh|anew|reset|"
           r"rotat\w*|mov\w*|evolv\w*|land\w*|shipped|ships? (?:a|an|new|updates?)|releas\w*|publish\w*|add\w*|expir\w*|"
           r"come out|arriv\w*|new|fluctuat\w*|grows?|growing|expand\w*)")
_DOCS = (r"(?:docs|documents?|documentation|wiki|handbook|manuals?|polic(?:y|ies)(?: wording)?|"
         r"knowledge ?base|kb|contracts?|catalog(?:ue)?|faqs?|playbooks?|runbooks?|sops|"
         r"spec(?:ification)? sheets?|specs|formulary|ordinances?|regulations?|statutes?|case law|"
         r"database|archive|intranet|confluence|sharepoint|price (?:sheet|list)s?|patch notes|"
         r"syllabi|syllabus|release notes|tariff schedule|product (?:pages|data|sheets)|"
         r"standards|procedures manual|guidance|filings|records|papers|articles|reports|"
         r"notes|tickets|incident writeups|feed|registers|ledgers)")

KNOWLEDGE: tuple[SignalSpec, ...] = (
    # --- knowledge -----------------------------------------------------------------------------
    SignalSpec(
        "fresh_knowledge", "knowledge that changes", "knowledge",
        _fx(p=-1, f=-0.5, r=3, l=-1.5, t=-2, h=1.5),
        patterns=(
            rf"\b{_CHANGE}\b[^.;]{{0,40}}?\b{_FREQ}",
            rf"\b{_LOAD}\b[^.;]{{0,90}}?\b{_WHEN}\b",
            rf"\b{_WHEN}\b[^.;]{{0,20}}?\b(?:a |an |the |our )?(?:\w+ ){{0,2}}?{_LOAD}\b",
            rf"\b{_FREQ}\b[^.;]{{0,25}}?\b{_CHANGE}\b",
            rf"\b{_CHANGE}\s+(?:\w+\s+){{0,2}}?(?:every|each|with (?:each|every)) \w+",
            rf"\b{_CHANGE}\s+(?:live|in real[- ]time|continuously|constantly|as \w+ (?:come|"
            rf"comes|arrives?|happens?|lands?)\b)",
            r"\b(?:valid|true|correct|in force|available) (?:today|right now|as of today|at the "
            r"moment)\b|\b(?:out of date|outdated|stale) (?:within|after|in) ",
            r"\b(?:(?:today|tonight|tomorrow)'?s|this (?:week|month|season|semester|quarter|year|term|morning|"
            r"afternoon|evening|hour)'?s?|latest|"
            r"up[- ]to[- ]the[- ]minute|up[- ]to[- ]date|real[- ]time|breaking news|"
            r"current(?:ly)? (?:\w+ )?(?:prices?|rates?|stock|inventory|regulations?|rules|polic"
            r"(?:y|ies)|schedules?|versions?|balance|status|figures|data|deadlines?|tariffs?|terms|"
            r"catalog(?:ue)?|menu|offers?|promotions?|availability|patch|events|law|guidance|"
            r"portfolio|stock status|lineup|roster|fees|timetables?|holdings|positions|balances|"
            r"orders?|weather|conditions|levels|queues?|locations?|whereabouts|occupancy|plans|"
            r"calendars?|programmes?|programs?|season (?:\w+ )?calendar|"
            r"outages?|incidents|(?:\w+ )?agreements?|contracts?|rosters?|rotas?)|"
            r"market (?:moves|movements|data|conditions|prices)|"
            r"live (?:[\w-]+,? ){0,4}?(?:data|prices|catalog(?:ue)?|inventory|stock|feeds?|rates|figures|"
            r"scores|availability|outages?|status|dashboards?|incidents|positions|database|db|"
            r"system|map|board|tracker|layer|sheet)|"
            r"(?:real|actual) (?:\w+ )?availability)\b",
            # "whatever the injury tracker says today", "who's available for Saturday"
            r"\bwhatever (?:the |our |their )?(?:[\w'-]+ ){0,3}(?:says|shows|lists|has|reports)"
            r" (?:today|now|right now|at the moment|this (?:week|morning))\b",
            r"\b(?:who|what)(?:'s| is| are) (?:available|open|free|on (?:shift|duty|call))\b",
            r"\b(?:stock|prices?|rates|inventory|availability) (?:levels? )?(?:shifts?|moves?|"
            r"changes?|fluctuates?)\b",
            r"\b(?:never|not) (?:be )?(?:out of date|stale)\b",
            # "bulletins that keep arriving", "prices change when performances sell out"
            r"\bkeeps? (?:on )?(?:arriving|coming(?: in)?|changing|growing|being added|landing|"
            r"moving)\b",
            r"\bchange(?:s|d)? (?:when|whenever|as soon as|each time|every time)\b",
            # live status: what is delayed, open or in stock at the moment of asking
            r"\b(?:is|are|'s|'re|was|were|have|has)\b[^.;]{0,60}?\b(?:right now|at the moment|"
            r"as we speak|at this (?:very )?moment)\b|\bon hand (?:now|right now|today)\b",
            r"\b(?:delay(?:s|ed)?|cancell?(?:ed|ations?)|outages?|disruptions?|wait(?:ing)? "
            r"times?|occupancy|seats? left|sold out|in stock)\b[^.;]{0,60}?\b(?:now|currently|"
            r"today|tonight|this (?:morning|afternoon|evening|hour))\b",
            r"\bnext (?:working |available |free |open )?(?:[\w-]+ )?(?:train|bus|tram|ferry|flight|departure|"
            r"appointment|slot|opening)\b",
            r"\b(?:available|in stock|on offer|on sale|bookable) (?:that|this|each|every|the "
            r"same) (?:day|week|month|season|weekend)\b",
        ),
        prototypes=(
            "the information changes every week",
            "prices and stock levels are updated daily",
            "a crawler loads the latest pages into our database every night",
            "answers must reflect the latest version of the documents",
            "new products and rules are added all the time",
            "the figures are refreshed every hour",
            "the content is revised every release",
        ),
        negated_as="static_knowledge", slot="freshness",
        # "current keyword rules misroute a lot" describes the system being replaced
        unless=(r"\b(?:current(?:ly)?|existing) (?:[\w-]+ ){0,2}(?:rules|system|setup|process|"
                r"tool|classifier|heuristics|approach|solution|model)\b[^.;]{0,30}?\b(?:mis\w+|"
                r"fail\w*|miss\w*|break\w*|struggl\w*|wrong|poor\w*|bad\w*|brittle)\w*",),
    ),
    SignalSpec(
        "static_knowledge", "knowledge that does not change", "knowledge",
        _fx(r=-0.8, l=0.4, h=-0.5),
        patterns=(
            r"\b(?:never|rarely|seldom|hardly ever|doesn'?t|does not|don'?t|do not|won'?t|"
            r"will not)\s+(?:\w+\s+){0,2}(?:change|changes|get updated|updated?|revised?)\b",
            r"\b(?:has|have) (?:been|stayed|remained) (?:stable|unchanged|the same|fixed)\b",
            r"\b(?:hasn'?t|haven'?t|has not|have not|wasn'?t|weren'?t|not been) (?:\w+ )?"
            r"(?:changed|updated|revised|touched|modified)\b",
            r"\b(?:schema|rules|content|corpus|catalog(?:ue)?|list|taxonomy|codes|categories|"
            r"labels|language|syntax|grammar|format) (?:itself |themselves )?(?:is|are|has been|"
            r"have been|stays|stay) (?:\w+ )?(?:stable|static|fixed|"
            r"frozen|unchanged|settled)\b",
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
            rf"the agency'?s?|our own|(?-i:the [A-Z]\w+'s))\b[^.;]{{0,25}}?\b{_DOCS}\b",
            r"\b(?:handbook|wiki|knowledge ?base|formulary|ordinances?|statutes?|case law|"
            r"runbooks?|playbooks?|patch notes|price (?:sheet|list)|spec(?:ification)? sheets?|"
            r"product manuals?|documentation|tariff schedule|syllabi|release notes|"
            r"policy wording|contracts we hold|regulation paragraph)\b",
            r"\b(?:sheets|documents|docs|files|records|reports|manuals|pdfs|binders?|archives?|"
            r"notes|permits|filings|aids|collections?|data) (?:that )?we (?:keep|hold|maintain|store|"
            r"own|publish|have on file)\b",
            r"\bwe (?:hold|keep|maintain|store|have) (?:\w+ ){0,3}(?:digiti[sz]ed|scanned|"
            r"archived|internal|historical) \w+",
            r"\b(?:years|decades|a decade|a century) of (?:\w+ ){0,3}(?:reports|permits|records|filings|documents|"
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
        # "our educators write daily notes" names what the model is to write, not a collection;
        # "against our crop-records schema" is the output's target
        unless=(r"\b(?:our|the|their|its) (?:[\w-]+ ){0,2}(?:schema|data model|table layout)\b",
                # "get SQL against our case-management database": where the output runs
                r"\b(?:sql|quer(?:y|ies)|statements?)\b[^.;]{0,15}?\b(?:against|on|over|for|to "
                r"run (?:on|against)) (?:our|the|their) (?:[\w-]+ ){0,3}(?:database|db|"
                r"warehouse|tables?)\b",
                rf"\b(?:our|the|their) (?:[\w-]+ ){{0,2}}(?:jot|jots|take|takes|log|logs|scribble|"
                rf"scribbles|dictate|dictates)\b[^.;]{{0,25}}?\b{_DOCS}\b",
                r"\bthe only (?:[\w-]+ )?(?:documentation|docs?|documents?) (?:involved|needed|"
                r"there is|we have)\b",
                # "40 million annotated spectra in our database" is training data
                r"\b(?:labell?ed|annotated|tagged|approved)\b[^.;]{0,40}?\b(?:in|from) (?:our|the) "
                r"(?:\w+ )?(?:database|archive|records|warehouse)\b",
                rf"\b(?:our|the|their) (?:[\w-]+ ){{0,2}}(?:write|writes|draft|drafts|produce|"
                rf"produces|send|sends|fill in|fills in|type|types)\b[^.;]{{0,25}}?\b{_DOCS}\b",),
    ),
    SignalSpec(
        "grounding", "must cite or be grounded in sources", "knowledge",
        _fx(p=-1, f=-0.5, r=2.5, l=-1, t=-1.5, h=1.5),
        patterns=(
            r"\b(?:cites?|citing|citations?|(?<!open[- ])(?<!open )(?<!decompiled )(?<!original )"
            r"sources?(?! code| files?| text)|"
            r"reference (?:the|each|every|its)|with references|referencing|provenance|traceab\w+|auditab\w+|audit trail|"
            r"verifiab\w+|attribut\w+)\b",
            r"\b(?:quote|quotes|quoting|show|shows|showing|point to|points to|pinned to|give|gives|"
            r"giving|include|includes|state|states|cite|"
            r"link to|name|names|see) (?:\w+ ){0,4}(?:section|clause|paragraph|page|passage|"
            r"heading|article|guideline|rule|text|ordinance|document|case law|regulation)s?\b",
            # "with a reference to the clause each field came from"
            r"\breferences? (?:back )?to (?:the|each|every|its|their) (?:\w+ ){0,2}(?:clause|"
            r"section|page|paragraph|passage|article|source|document|line|record)s?\b",
            r"\b(?:grounded in|based only on|come from|comes from|taken from|pulled from) (?:the "
            r"|our |those |these |its )?(?:\w+ ){0,3}(?:documents?|reports?|sheets?|sources?|"
            r"records|texts?|manuals?|policy|policies|regulations?|files|apis?|databases?|"
            r"feeds?|systems?)\b",
            r"\b(?:pointed|point|points|link|links|linked) to (?:the )?(?:right |exact |relevant )?"
            r"(?:\w+ ){0,2}(?:collection|box|document|record|file|section|page|source|entry|"
            r"reports?|cases?|papers?|tickets?|articles?|files|records|documents)\b",
            r"\bwith the (?:\w+ ){0,2}(?:number|id|reference|page|link) (?:it|they|of the)?",
            r"\b(?:number|id|reference|page|link|source) (?:\w+ ){0,1}(?:referenced|cited|quoted|"
            r"included|shown) (?:in|on|with) (?:each|every|the)\b",
            r"\bwhere (?:it|they|the answer) (?:got|gets|found|came from)",
            r"\bwhich (?:\w+ ){0,2}(?:notice|document|page|section|source|record|file|article|"
            r"clause|policy|manual|entry|report) (?:says|said|states|stated|mentions|supports|"
            r"backs)\b",
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
        unless=(r"\b(?:citation|reference|referencing|bibliograph\w*|source) (?:style|format)s?\b",
                # "the facts come from the product sheet we paste in": the input, not sources
                r"\b(?:come|comes|taken|pulled) from (?:the|our|a) (?:[\w-]+ ){0,3}(?:we|they|you|"
                r"users?|agents?|staff) (?:paste|pasted|attach|attached|supply|supplied|provide|"
                r"provided|give|type)\w*",),
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
            r"\bask (?:\w+ ){0,3}['\"‘“](?:\w+[ '’]){2,}",
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
            # the input is the text at hand, not a collection
            r"\b(?:only|just|purely) (?:about|from|on|using) (?:the|this|that|their|each|what) "
            r"(?:[\w'-]+ ){0,3}(?:thread|text|email|chain|message|transcript|passage|note|"
            r"pasted|in front of (?:them|you))\b",
            # general world knowledge: what any capable model already knows
            r"\bnothing (?:about|on|from|to do with) (?:us|our|the company|the firm)\b",
            r"\b(?:general|world|common|everyday|encyclop(?:a)?edic|school|textbook|pub[- ]quiz|"
            r"trivia|common[- ]sense|generic)[- ](?:\w+ ){0,1}(?:knowledge|facts?|trivia|questions|"
            r"science|stuff|concepts|education|explanations|topics|information)\b",
            r"\bnot (?:[\w-]+-)?specific\b|\bnot specific to (?:us|our|any)\b",
            r"\bjust (?:\w+[- ]){0,2}(?:kid|general|everyday|curious|random|fun) (?:\w+ )?"
            r"(?:stuff|questions|facts|things)\b",
        ),
        prototypes=(
            "general knowledge questions that any encyclopedia answers",
            "everyday science questions, nothing about our organisation",
            "common-sense facts the model already knows",
        ),
        negatable=False, slot="documents",
    ),
)
