"""Intent classifier for Goalpost posts: pure logic, standard library only at runtime.

A multinomial logistic regression over sparse string features (word unigrams and bigrams,
the first words of the post, hand-written linguistic cue features) whose weights live in
``artefact/intent_model.json``. The artefact is trained by ``python -m services.classify.train``
from the project's own training data in ``training/``.

Public interface (used by the classify service and ``goalpost eval classify``)::

    MODEL_VERSION: str
    Classification(intent, confidence, scores, topics)
    classify(text, tags=None) -> Classification
    classify_batch(texts, tags=None) -> list[Classification]
"""
from __future__ import annotations

import json
import math
import os
import re
import threading
from dataclasses import dataclass, field

MODEL_VERSION = "intent-lr-2026.11.1"
INTENTS: tuple[str, ...] = ("goal", "request", "offer", "status")

ARTEFACT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artefact", "intent_model.json")

MAX_TOKENS = 120  # features are taken from the first MAX_TOKENS tokens: bounded cost per post
MAX_TOPICS = 8
CUE_VALUE = 0.35  # value of each "r:" cue feature (lexical features share an L2 norm of 1)


@dataclass(frozen=True)
class Classification:
    intent: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Text normalisation and tokenisation
# --------------------------------------------------------------------------------------------

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\b\S+\.(?:com|org|net|ly|co|io)/\S*", re.I)
_MENTION_RE = re.compile(r"@\w+")
_ENTITY_RE = re.compile(r"&(amp|lt|gt|quot|#39);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'"}
_HASHTAG_RE = re.compile(r"#(\w+)")
_EMOTICON_RE = re.compile(r"(?:^|\s)(?:[:;=8][-'^o]?[()\[\]dpo/\\|*3]+|<3|\^_\^|xd+|[(][:;])(?=\s|$)", re.I)
_TOKEN_RE = re.compile(r"_url_|_user_|#?[a-z0-9]+(?:['\u2019][a-z]+)*|[?!]")
_QUOTE_RE = re.compile(r"[\u2019\u2018`]")

_SENT_END_RE = re.compile(r"[.!?]+")
_DIGIT_RE = re.compile(r"[0-9]")
_SENT_SPLIT_RE = re.compile(r"[.!?]+(?:\s|$)")
_ALNUM_RE = re.compile(r"^(?=.*[a-z])(?=.*[0-9])[a-z0-9]+$")
_TITLE_RE = re.compile(
    r"^[^.?!:\n]{8,120}?[a-z0-9)\]\"'] (?:The|This|These|There|So|When|What|How|Is|Are|Can|Many|Some|In|A|An|"
    r"Our|We|It|Does|Do|Why|Okay|OK|Before|After|Recently|Let|My|I'm|I've|I'd|Currently|Most|Every|"
    r"Which|Where|Should|Would|Could|Has|Have|If|As|For|Since|Lately|Last|Today|Yesterday|Hi|Hello|Hey|"
    r"Suppose|Consider|Given|Assume|Usually|Sometimes|While|At|On|One|Two|Another|Any|All|Often)\b")
_WH = frozenset("how what why where when which who whom whose is are can could would should "
                "does do did will has have any anyone anybody".split())
_IMPERATIVE = frozenset(
    "be get stop start quit lose eat drink read learn make keep try use go travel save run spend "
    "find take give put add buy sell call visit work focus cut write finish pay stay love live "
    "smile quit exercise sleep drop move become apply check see look avoid watch meet enjoy manage "
    "recruit cite follow address collaborate figure motivate hug thank forgive help support respect "
    "appreciate explore cook bake paint draw hike plant fix organize organise declutter donate listen "
    "study practice practise play record invest budget earn launch grow create design publish share "
    "celebrate cherish chase embrace ignore protect prioritize prioritise schedule track join lead "
    "stretch walk swim climb dance sing laugh pray meditate journal floss unplug unfollow delete "
    "graduate finish complete master perfect develop improve reduce increase spend cut eliminate "
    "kick break build clean dress wake treat tone train lift run bike write visit volunteer "
    "reconnect forgive invest declutter buy sell pass win land hit beat reach finally never always "
    "stay keep fall find give go".split())
_STOP = frozenset("""
a an the and or but if then so of to in on at by for with from as into onto about over under
up down out off is are was were be been being am do does did doing have has had having it its
it's this that these those there here i me my mine myself we us our ours you your yours he him
his she her hers they them their theirs what which who whom whose when where why how not no
nor yes very too just can could should would will shall may might must also than such own same
other some any all each every both few more most much many lot lots again once only s t don
didn't doesn't isn't aren't wasn't weren't won't can't cannot i'm i've i'll i'd you're you've
you'll you'd we're we've they're it'll that's there's what's let's im ive ill id dont cant wont
isnt u ur r ya yeah yep ok okay oh ah hey hi hello lol lmao haha hehe omg rt via amp
get got getting go going gone went make made want wanted need needed know knew like really
thing things something anything someone anyone anybody everyone way ways one two new good
best better well still even though since while because would question questions answer
answers thanks thank please help know think thought see say said tell use used using
year years day days time today tonight now back first last next see way lot bit actually
""".split())

def _cue_sets(spec: str) -> frozenset:
    """'a|b c|d' -> {'w:a', 'b:b c', 'w:d'}: unigram and bigram feature names."""
    items = [" ".join(x.split()) for x in spec.replace("\n", " ").split("|") if x.strip()]
    return frozenset(("b:" if " " in x else "w:") + x for x in items)


# cue phrases (one or two normalised tokens), matched by set intersection: cheap per post
_FUTURE = _cue_sets("""i'll|gonna|wanna|imma|ima|gotta|we'll|i will|we will|i shall|i'm going|im going|am going|
    plan to|planning to|want to|hope to|hoping to|intend to|promise to|resolve to|vow to|need to|have to|
    determined to|like to|aim to|aiming to|trying to|try to|decided to|going to|i must|i should""")
_GOALW = _cue_sets("""resolution|resolutions|goal|goals|newyear|newyears|nye|bucketlist|challenge|_year_|
    this year|next year|new year|new year's|new years|bucket list|from now|no more|starting today|
    starting tomorrow|starting monday|end of""")
_REQ = _cue_sets("""recommend|recommendations|recommendation|suggestions|appreciated|anyone|anybody|advice|
    how do|how can|how should|how would|how to|how does|how much|how many|how long|how often|anyone know|
    does anyone|do you|can someone|can anyone|can you|can i|could someone|could anyone|could you|any tips|
    any advice|any ideas|any suggestions|any recommendations|any help|is it|is there|is this|are there|
    should i|what is|what are|what's|what should|what would|what do|what does|what can|which is|which one|
    i wonder|wondering if|wondering whether|wondering how|looking for|help me|need help|need advice|
    please help|please donate|please give|please send|please retweet|please rt|where can|where do|where is|
    where are|where should|why do|why does|why is|why are|why did|my question|in advance""")
_OFFER = _cue_sets("""try|because|depends|generally|usually|typically|basically|however|offering|providing|
    provides|available|free|here's|resources|info|information|answer|source|eg|ie|you can|you could|
    you should|you might|you may|you need|you will|you want|you'll|you would|i'd recommend|i'd suggest|
    would recommend|would suggest|i recommend|i suggest|in my|my experience|the reason|for example|
    in general|this is|there are|there is|we're offering|are offering|are providing|are giving|
    are collecting|here is|here are|if you|check out|see also|according to|sign up""")
_DONATE = _cue_sets("""donate|donated|donating|donation|donations|donor|donors|relief|volunteer|volunteers|
    volunteering|redcross|shelter|shelters|fundraiser|fundraising|supplies|victims|red cross""")
_CHAT = _cue_sets("""lol|lool|lolol|lmao|rofl|haha|hahaha|hehe|brb|wb|omg|ty|thx|nite|bye|byee|hi|hii|hey|
    heya|hello|hiya|yo|sup|wassup|ugh|yay|aw|aww|awww|kk|ok|okay|nah|yeah|yea|yep|cya|g2g|gtg|bbl|hugs|
    pm|pms|afk|lmfao""")
_TEXT_CODE_RE = re.compile(r"\btext\w*\s+[a-z]+\s+to\s+\d{4,6}\b")


def _normalise(text: str) -> str:
    t = text.lower()
    if "&" in t:
        t = _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(1)], t)
    if "\u2019" in t or "\u2018" in t or "`" in t:
        t = _QUOTE_RE.sub("'", t)
    if "/" in t or "www." in t:
        t = _URL_RE.sub(" _url_ ", t)
    if "@" in t:
        t = _MENTION_RE.sub(" _user_ ", t)
    return t


def _bucket(n: int, edges: tuple[int, ...]) -> int:
    for i, e in enumerate(edges):
        if n <= e:
            return i
    return len(edges)


def features(text: str, normalised: str | None = None) -> list[str]:
    """The sparse feature strings of one post: lexical ones, then cue ("r:...") ones."""
    lex, cue = _extract(text or "", normalised)
    return sorted(lex) + cue


_YOU = frozenset(("you", "your", "you're", "yours", "u", "ur"))
_ME = frozenset(("i", "my", "me", "i'm", "im", "i've", "myself"))


def _extract(raw: str, normalised: str | None = None) -> tuple[dict[str, None], list[str]]:
    t = _normalise(raw) if normalised is None else normalised
    toks = _TOKEN_RE.findall(t)
    if len(toks) > MAX_TOKENS:
        toks = toks[:MAX_TOKENS]
    lexl: list[str] = []
    cue: list[str] = []
    add = cue.append
    words: list[str] = toks
    nhash = 0
    if "#" in t or _DIGIT_RE.search(t):
        words = []
        for tok in toks:
            if tok[0] == "#":
                nhash += 1
                lexl.append("h:" + tok[1:])
                tok = tok[1:]
            if tok.isdigit():
                tok = "_year_" if (len(tok) == 4 and tok[:2] in ("19", "20")) else "_num_"
            elif len(tok) > 4 and not tok.isalpha() and _ALNUM_RE.match(tok):
                lexl.append("w:_alnum_")  # user handles and codes: mike22, user45, sk8r
            words.append(tok)
    lexl += ["w:" + w for w in words]
    lexl += ["b:" + a + " " + b for a, b in zip(["<s>"] + words, words + ["</s>"])]
    # first words (outside a retweet/mention prefix)
    k = 0
    while k < len(words) and words[k] in ("rt", "_user_", "_url_"):
        k += 1
    first = words[k:k + 2]
    if first:
        lexl.append("f:" + first[0])
        if len(first) > 1:
            lexl.append("f2:" + first[0] + " " + first[1])
        if first[0] in _IMPERATIVE:
            add("r:imp_start")
        if first[0] in _WH:
            add("r:wh_start")
    lex = dict.fromkeys(lexl)  # an ordered set: deterministic summation order
    nq = raw.count("?")
    if nq:
        add("r:q")
        if nq > 1:
            add("r:q2")
        try:
            qi = words.index("?")
        except ValueError:
            qi = -1
        if 0 <= qi <= 15:
            add("r:q_early")
        elif 0 <= qi <= 40:
            add("r:q_mid")
        # first sentence is a question (forum title / opening question)
        m = _SENT_END_RE.search(raw)
        if m and m.group(0)[0] == "?":
            add("r:first_sent_q")
        if raw.rstrip().endswith("?") or words[-1:] == ["?"]:
            add("r:q_end")
    if _TITLE_RE.match(raw):
        add("r:title")  # "Some title words Then the body starts": a forum question's title + body
    if "!" in raw:
        add("r:excl")
    ntok = len(words)
    add("r:len%d" % _bucket(ntok, (2, 5, 10, 20, 40, 80)))
    nsent = len(_SENT_SPLIT_RE.findall(raw))
    add("r:sent%d" % _bucket(nsent, (0, 1, 3, 6)))
    if "_url_" in t:
        add("r:url")
    if "_user_" in t:
        add("r:mention")
        if words[:1] == ["rt"] or " rt _user_" in t:
            add("r:rt")
    if nhash:
        add("r:hash%d" % _bucket(nhash, (1, 3)))
    if _EMOTICON_RE.search(raw):
        add("r:emoticon")
    ntok = len(words)
    keys = lex.keys()
    longp = "L" if ntok > 40 else ("M" if ntok > 15 else "S")  # cue x length conjunctions
    if not keys.isdisjoint(_FUTURE):
        add("r:future")
        add("r:future" + longp)
    if not keys.isdisjoint(_GOALW):
        add("r:goalw")
        add("r:goalw" + longp)
    n_req = len(keys & _REQ)
    if n_req:
        add("r:req%d" % _bucket(n_req, (1, 2)))
    n_off = len(keys & _OFFER)
    if n_off:
        add("r:off%d" % _bucket(n_off, (1, 3, 6)))
    if not keys.isdisjoint(_DONATE):
        add("r:donate")
    if ("w:text" in lex or "w:texting" in lex) and _TEXT_CODE_RE.search(t):
        add("r:textcode")
    if not keys.isdisjoint(_CHAT):
        add("r:chat")
    if ntok:
        nyou = sum(map(_YOU.__contains__, words))
        ni = sum(map(_ME.__contains__, words))
        if nyou:
            add("r:you%d" % _bucket(nyou, (1, 3)))
        if ni:
            add("r:i%d" % _bucket(ni, (1, 3, 6)))
    if len(raw) > 3 and raw.isupper():
        add("r:caps")
    if not words:
        add("r:empty")
    add("r:bias")
    return lex, cue


# --------------------------------------------------------------------------------------------
# Topics
# --------------------------------------------------------------------------------------------

_TOPIC_STOP = _STOP | frozenset("""
want wants wanting wanna gonna gotta trying try tried need needs needing hope hoping plan plans
resolution resolutions goal goals new years year's years newyear newyears nye 2014 2015 2016
maybe probably definitely already always never ever often sometimes usually really actually
quite pretty enough else another around through during before after without within between
every everything nothing people person guy guys girl girls man woman stuff much many lot lots
okay sure yes yeah nope please thank thanks thx ty hi hey hello bye lol lmao haha hehe omg
anyone someone somebody anybody everybody nobody wondering wonder looking find found know
known does doing done make makes making made take takes took taken give gives gave given
come comes came put puts seem seems seemed feel feels felt look looks looked let lets keep
keeps kept start started stop stopped think thinks thought ask asked asking tell told say
says said use uses used using work works worked working able unable sort kind type types
thing things way ways part parts case cases example examples point reason reasons idea ideas
fact question questions answer answers post posts edit update http https www com org net
rt amp via url user good great nice bad best better worse worst big small little long short
high low right wrong true false sure much more less most least also just only even still
today tonight tomorrow yesterday morning night week weeks month months day days time times
""".split())


_TOPIC_TOKEN_RE = re.compile(r"[a-z][a-z0-9'+-]*[a-z0-9+]|[a-z]|[.,;:!?()\[\]\"/|_]|\s-\s")
_topic_word_cache: dict[str, str] = {}


def _topic_word(w: str) -> str:
    """The topic form of one token, or '' when it cannot be a topic (stopword, punctuation, short)."""
    w = w.strip("'-")
    if len(w) < 3 or w in _TOPIC_STOP or not w[0].isalpha():
        return ""
    s = _stem(w)
    return "" if s in _TOPIC_STOP else s


def _stem(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith("sses"):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "'s")):
        return w[:-1]
    if w.endswith("'s"):
        return w[:-2]
    return w


def normalise_tag(tag: str) -> str:
    """'Home Brewing' -> 'home-brewing'; '#Sourdough' -> 'sourdough'."""
    t = (tag or "").strip().lower().lstrip("#")
    t = re.sub(r"[\s_]+", "-", t)
    t = re.sub(r"[^a-z0-9+.\-]", "", t)
    return t.strip("-.")


def topics(text: str, tags: list[str] | None = None, limit: int = MAX_TOPICS,
           normalised: str | None = None) -> list[str]:
    """Normalised routing keywords: the post's tags, its hashtags, then salient words and phrases."""
    out: list[str] = []
    seen: set[str] = set()

    def push(x: str) -> None:
        if x and x not in seen and len(out) < limit:
            seen.add(x)
            out.append(x)

    for tag in tags or ():
        if isinstance(tag, str):
            push(normalise_tag(tag))
    raw = text or ""
    t = _normalise(raw) if normalised is None else normalised
    if "#" in t:
        for m in _HASHTAG_RE.finditer(t):
            h = m.group(1)
            if not h.isdigit() and h not in _TOPIC_STOP:
                push(_stem(normalise_tag(h)))
        if len(out) >= limit:
            return out
        t = _HASHTAG_RE.sub(" ", t)
    counts: dict[str, int] = {}
    firstpos: dict[str, int] = {}
    bigrams: dict[str, int] = {}
    prev = None
    cache = _topic_word_cache
    for pos, w in enumerate(_TOPIC_TOKEN_RE.findall(t)):
        s = cache.get(w)
        if s is None:
            s = _topic_word(w)
            if len(cache) < 200_000:
                cache[w] = s
        if not s:
            prev = None
            continue
        if s in counts:
            counts[s] += 1
        else:
            counts[s] = 1
            firstpos[s] = pos
        if prev is not None:
            bg = prev + "-" + s
            bigrams[bg] = bigrams.get(bg, 0) + 1
        prev = s
    if bigrams:
        for b in [b for b, c in bigrams.items() if c > 1][:2]:
            push(b)
    # most frequent first (long words get a half-count bonus), ties by first position
    ranked = sorted((-c - (0.5 if len(w) > 6 else 0.0), firstpos[w], w) for w, c in counts.items())
    for _, _, w in ranked[:limit]:
        push(w)
    if len(out) < limit and bigrams:
        # the phrase whose words are most frequent, e.g. "cold-brew", "sourdough-starter"
        best = max(enumerate(bigrams), key=lambda ib: (
            bigrams[ib[1]], sum(counts.get(w, 0) for w in ib[1].split("-", 1)), -ib[0]))[1]
        push(best)
    return out


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

_lock = threading.Lock()
_model: tuple[dict[str, list[float]], list[float], tuple[str, ...]] | None = None


def load_artefact(path: str = ARTEFACT_PATH) -> tuple[dict[str, list[float]], list[float], tuple[str, ...]]:
    with open(path, "rb") as f:
        data = json.loads(f.read())
    labels = tuple(data["labels"])
    if len(labels) != 4:
        raise ValueError("artefact must have exactly four labels")
    weights = {k: tuple(float(x) for x in v) for k, v in data["weights"].items()}
    bias = [float(x) for x in data["bias"]]
    return weights, bias, labels


def _get_model():
    global _model
    m = _model
    if m is None:
        with _lock:
            if _model is None:
                _model = load_artefact()
            m = _model
    return m


def reset_model_cache() -> None:
    global _model
    with _lock:
        _model = None


def feature_vector(text: str, normalised: str | None = None) -> tuple[list[str], list[str], float]:
    """(lexical features, cue features, lexical value). Features are binary; the lexical ones
    (words, bigrams, first words, hashtags) carry 1/sqrt(#lexical) each (L2-normalised, so long
    posts do not get extreme scores; at scoring time the count is over the features the model
    knows), the cue features ("r:...") carry CUE_VALUE whatever the length."""
    lex, cue = _extract(text or "", normalised)
    return sorted(lex), cue, (1.0 / math.sqrt(len(lex)) if lex else 0.0)


def _scores(text: str, normalised: str, weights, bias) -> list[float]:
    lex, cue = _extract(text, normalised)
    get = weights.get
    z = list(bias)
    ws = list(filter(None, map(get, lex)))  # known features, in a deterministic order
    if ws:
        v = 1.0 / math.sqrt(len(ws))  # normalise over the features the model knows
        z = [b + v * x for b, x in zip(z, map(sum, zip(*ws)))]
    ws = list(filter(None, map(get, cue)))
    if ws:
        z = [b + CUE_VALUE * x for b, x in zip(z, map(sum, zip(*ws)))]
    mx = max(z)
    ex = [math.exp(v - mx) for v in z]
    s = sum(ex)
    return [v / s for v in ex]


def classify(text: str, tags: list[str] | None = None) -> Classification:
    weights, bias, labels = _get_model()
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text.strip():
        # nothing to read: "status" is the catch-all intent
        n = len(labels)
        probs = [0.0] * n
        probs[labels.index("status")] = 1.0
        scores = dict(zip(labels, probs))
        return Classification("status", 1.0, scores, topics("", tags))
    t = _normalise(text)
    probs = _scores(text, t, weights, bias)
    best = max(range(len(labels)), key=lambda i: probs[i])
    scores = dict(zip(labels, probs))
    return Classification(labels[best], probs[best], scores, topics(text, tags, normalised=t))


def classify_batch(texts: list[str], tags: list[list[str]] | None = None) -> list[Classification]:
    if tags is None:
        return [classify(t) for t in texts]
    if len(tags) != len(texts):
        raise ValueError("tags must have one list per text")
    return [classify(t, tg) for t, tg in zip(texts, tags)]
