"""The rows of the signal table for what people *tried* and what they *own* (``docs/framework.md``).

Practitioners describe a task in the words of the strategy they already tried ("I fine-tuned
Llama on my docs and it still makes things up") or of the one they assume ("train the model on
our PDFs"). Read by its words, such a post asks for fine-tuning; read by its need, it reports the
framework's first rule: facts do not stick in weights, retrieval supplies them. These rows read
the need:

* ``tried_tuning`` — a tuning run they already made: no strategy of its own, but the context in
  which a failure below is evidence (the rule ``failed_tuning_means_knowledge`` in scoring);
* ``facts_not_learned`` — answers that do not remember, invent, or contradict what was trained;
* ``prompt_works`` — a prompt (or a few examples in it) that already does the job: the cheaper
  strategy they already have is the baseline to keep, not a reason to train;
* ``standard_format`` — output in a standard machine format (valid JSON, XML, YAML): no
  strategy of its own, but with nothing else to learn it is enforced at decoding and shown by
  an example, not trained (the rule ``format_at_decoding`` in scoring);
* ``own_corpus`` — a body of text the user owns (documents, PDFs, notes, a book, a codebase) to be
  *known* — "make it know our data", "answer questions about my files" — not input → output
  pairs to learn a behaviour from.
"""

from __future__ import annotations

from graftlm.advisor.signals import SignalSpec, effects as _fx

_TUNE = r"(?:fine-?tun\w*|finetun\w*|train(?:ed|ing)?|retrain\w*|lora|qlora|sft|p-?tun\w*)"
_OWNED_WORDS = (r"data|documents?|docs|documentation|files?|pdfs?|e-?mails?|notes|texts?|corpus|"
                r"content|knowledge(?: ?base)?|wiki|manuals?|books?|articles|website|"
                r"repositor(?:y|ies)|repos|codebase|information|chats?|materials?|papers|txt|"
                r"reports")
_OWNED = f"(?:{_OWNED_WORDS})"

ATTEMPTS: tuple[SignalSpec, ...] = (
    SignalSpec(
        "tried_tuning", "a tuning run already tried", "scope",
        _fx(),
        patterns=(
            r"\b(?:i|we|i'?ve|we'?ve|i have|we have|i had|we had|they)\s+(?:\w+\s+){0,2}?"
            r"(?:fine-?tuned|finetuned|trained|retrained|tuned|did|ran|tried)\b(?! to\b)",
            rf"\b(?:after|once|when|since)\s+(?:the |my |our |a )?(?:\w+\s+){{0,1}}?{_TUNE}\b",
            r"\b(?:fine-?tuned|finetuned|trained|tuned) (?:[\w.-]+ ){0,2}(?:model|version|llm|"
            r"adapter|checkpoint)\b",
            r"\b(?:lora|qlora|sft|p-?tuning(?: v2)?)[- ](?:fine-?tun\w*|trained|training|run)\b",
            r"\b(?:loss|epochs?)\b[^.;]{0,40}\b(?:went|dropped|down|decreas\w*|trained|reached)\b",
        ),
        negatable=False,
    ),
    SignalSpec(
        "facts_not_learned", "answers that do not hold the facts", "knowledge",
        _fx(p=-1, f=-0.5, r=2, l=-1, t=-1, h=0.5),
        patterns=(
            r"\b(?:doesn'?t|does not|didn'?t|did not|can'?t|cannot|couldn'?t|won'?t|wouldn'?t|"
            r"isn'?t able to|is not able to|fails? to|never|unable to|still not|not)\s+"
            r"(?:\w+\s+){0,3}?(?:remember\w*|recall\w*|learn\w*|memori[sz]\w*|reproduce\w*|"
            r"retain\w*|absorb\w*|answer\w* (?:\w+ ){0,4}?(?:correct\w*|right|accurate\w*|"
            r"as in|from the)|give (?:\w+ ){0,2}(?:correct|right|accurate|ideal)|reply as|"
            r"get (?:it|them) right|contain|know (?:about|the|anything))\b",
            r"\b(?:hallucinat\w*|mak(?:es|ing) (?:\w+ ){0,2}up|made up|invent(?:s|ing)? "
            r"(?:\w+ )?(?:answers|facts|things|stuff|products|prices)|random (?:set of |"
            r"answers|products|content|facts)|unrelated content|nonsense|"
            r"not (?:the|what) (?:ones? |answers? )?(?:in|from) (?:the |my |our )?(?:training|"
            r"train|dataset|data)|(?:not|isn'?t|aren'?t|never) (?:reliably |always |quite )?"
            r"(?:correct|accurate|matching)|wrong answers?|answers? (?:are|is) (?:still )?wrong|"
            r"quotes? (?:last year'?s|old|outdated|stale)|out[- ]of[- ]date answers?|"
            r"answers? (?:\w+ ){0,2}(?:randomly|incorrectly))\b",
            r"\bnew knowledge\b[^.;]{0,60}\b(?:not|cannot|can'?t|n'?t)\b",
        ),
        negatable=False,
    ),
    SignalSpec(
        "prompt_works", "a prompt that already does the job", "scope",
        _fx(p=1.5, f=1, l=-1, t=-1.5, h=-0.5),
        patterns=(
            r"\b(?:works?|worked|working|does (?:it|the job)|did (?:it|the job)) (?:\w+ ){0,2}?"
            r"(?:with|using|via|through|by) (?:a |the |my |our |just )?(?:[\w-]+ )?(?:prompt|"
            r"prompting|prompts|few-?shot|system prompt|in-context|examples in the prompt)\b",
            r"\b(?:got|get|getting|achieved|reached) (?:\w+ ){0,2}?(?:perfect|good|great|"
            r"excellent|correct|right|reliable) (?:\w+ ){0,2}?(?:via|with|using|through|by|from) "
            r"(?:\w+ ){0,1}?(?:prompt\w*|few-?shot|in-context)\b",
            r"\bprompt(?:s|ing)? (?:engineering )?(?:already )?(?:works?|worked|is working|does "
            r"the job|gets it right)\b",
        ),
        negatable=False,
    ),
    SignalSpec(
        "standard_format", "a standard machine format (JSON, XML, YAML)", "scope",
        _fx(),
        patterns=(
            r"\b(?:valid|strict|proper|correct|well-?formed|parse?able|consistent|stable|"
            r"clean|pure|only) (?:json|xml|yaml)\b",
            r"\b(?:json|xml|yaml) (?:format(?:ted)?|output|mode|schema|objects?|responses?|"
            r"structure|strings?)\b",
            r"\bstructured (?:outputs?|responses?|results?|generation|data output)\b",
            r"\b(?:output|outputs|outputting|respond|responds|return|returns|generat\w+|produc\w+|"
            r"answer|reply|replies|emit\w*)\s+(?:\w+\s+){0,3}?(?:in|as|into)\s+(?:a |an )?"
            r"(?:valid |strict |proper )?(?:json|xml|yaml)\b",
            r"\b(?:json|xml|yaml)\b[^.;?]{0,40}\b(?:missing (?:commas?|quot\w+|brackets?|braces?)|"
            r"(?:is|are) (?:not |in)?valid|won'?t parse|fails? to parse|malformed|broken)\b",
            r"\b(?:json|xml|yaml) generation\b|\bformat,? (?:such as|like|e\.g\.,?|for example,?|"
            r"for instance,?) (?:json|xml|yaml)\b",
        ),
        negatable=False,
    ),
    SignalSpec(
        "own_corpus", "a body of text to be known, not pairs to learn from", "knowledge",
        _fx(p=-1, f=-1, r=2.5, l=-1, t=-1.5, h=0.5),
        patterns=(
            rf"\b(?:train\w*|fine-?tun\w*|finetun\w*|feed\w*|teach\w*|retrain\w*|learn\w*|"
            rf"upload\w*|ingest\w*|add\w*|insert\w*)\s+(?:[\w'-]+\s+){{0,4}}?(?:on|with|from|"
            rf"using|about|in|into)\s+(?:(?:a|the|all|all of|bunch of|lots of|lot of|some|these|"
            rf"those|this)\s+){{0,3}}(?:my|our|his|her|their|company'?s?|custom|domain|private|"
            rf"proprietary|internal|own|local|specific|specialised|specialized|personal)\s+"
            rf"(?:[\w-]+\s+){{0,3}}?{_OWNED}\b",
            rf"\b(?:answer\w*|respond\w*|ask\w*|chat\w*|questions?)\s+(?:\w+\s+){{0,3}}?(?:about|"
            rf"on|from|based on|related to|regarding|over|with)\s+(?:the |this |my |our |these |"
            rf"those |its |their )(?:[\w-]+\s+){{0,2}}?{_OWNED}\b",
            r"\b(?:make|get|help|let) (?:the model|it|the llm|llama|gpt|chatgpt|the bot|the ai) "
            r"(?:to )?(?:know|learn|understand|familiari[sz]e\w*|read) (?:about |with )?"
            r"(?:my|our|the|new|this|these|a)\b",
            rf"\b(?:feed\w*|give|giv\w*|teach\w*|show\w*) (?:it|the model|the llm|llama|gpt|"
            rf"chatgpt|the bot|the ai|an llm|a model) (?:(?:all|of|about|the|in) ){{0,3}}(?:my|our)"
            rf"\s+(?:[\w-]+\s+){{0,3}}?(?:{_OWNED_WORDS}|api|products?|projects?|protocols?|"
            rf"policies|code)\b",
            rf"\b(?:train\w*|fine-?tun\w*|finetun\w*|feed\w*|teach\w*)\s+(?:[\w'-]+\s+){{0,4}}?"
            rf"(?:on|with) (?:all |every |each )?(?:the |of the )?(?:[\w-]+\s+){{0,1}}?{_OWNED}"
            r" (?:in|from|on|of) (?:our|my|the company'?s?)\b",
            r"\banswer (?:anything|everything|questions) about (?:it|them|those|these)\b",
            # the reference pasted in by hand: retrieval is the automation of exactly that
            r"\bpast(?:e|es|ing|ed) (?:[\w-]+ ){0,3}(?:docs|documentation|reference|pages?|manual|"
            r"handbook|context|documents?|articles?|spec)\b[^.;]{0,30}\b(?:into|in|to) (?:the |"
            r"every |each |our |my )?(?:prompt|context|chat|conversation)s?\b",
            r"\b(?:new|domain|our|my|custom|private|specific|proprietary) (?:domain )?"
            r"knowledge\b|\bknowledge (?:it|the model) (?:doesn'?t|does not|didn'?t) "
            r"(?:already )?(?:contain|have|know)\b",
            r"\b(?:on|with|from|using) (?:my|our) (?:own )?(?:[\w-]+\s+){0,2}?(?:documents?|"
            r"docs|pdfs?|files|notes|emails|books?|wiki|codebase|repositor(?:y|ies)|knowledge "
            r"?base|txt files)\b",
        ),
        prototypes=(
            "train the model on our documents so it knows our products",
            "I want the model to answer questions about my own files",
            "feed it all our PDFs and notes so it learns the information",
        ),
        negatable=False,
    ),
)
