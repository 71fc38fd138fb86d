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

MAX_TOKENS = 160  # features are taken from the first MAX_TOKENS tokens: bounded cost per post
MAX_TOPICS = 8


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
_TOKEN_RE = re.compile(r"#?[a-z0-9]+(?:['\u2019][a-z]+)*|[?!]")
_QUOTE_RE = re.compile(r"[\u2019\u2018`]")

_WH = frozenset("how what why where when which who whom whose is are can could would should "
                "does do did will has have any anyone anybody".split())
_IMPERATIVE = frozenset(
    "be get stop start quit lose eat drink read learn make keep try use go travel save run spend "
    "find take give put add buy sell call visit work focus cut write finish pay stay love live "
    "smile quit exercise sleep drop move become apply check see look avoid".split())
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

_FUTURE_RE = re.compile(
    r"\b(?:i|we)\s*(?:will|'ll|ll|shall|am going to|'m going to|m going to|am gonna|'m gonna|m gonna|"
    r"gonna|plan to|plan on|want to|wanna|hope to|intend to|promise to|resolve to|vow to|"
    r"need to|have to|must|am determined to|'m determined to|would like to|'d like to|"
    r"aim to|am finally going to|'m finally going to|am trying to|'m trying to)\b")
_GOAL_RE = re.compile(
    r"\b(?:resolutions?|goals?|this year|next year|new year'?s?|newyear|ny|20[0-9]{2}|bucket list|"
    r"from now on|no more|starting (?:today|tomorrow|monday|now)|by the end of|challenge)\b")
_REQ_RE = re.compile(
    r"\b(?:how (?:do|can|should|would|to|does|did|much|many|long|often)|anyone know|does anyone|"
    r"do you know|can (?:someone|anyone|you|i)|could (?:someone|anyone|you)|any (?:tips|advice|"
    r"ideas|suggestions|recommendations|help)|is (?:it|there|this)|are there|should i|what (?:is|are|'s|"
    r"should|would|do|does|can)|which (?:is|one)|i (?:was|am|'m|m) wondering|wondering (?:if|whether|how)|"
    r"looking for|recommend(?:ations?)?|suggestions?|help me|need (?:help|advice|some)|"
    r"please (?:help|donate|give|send|retweet|rt)|where (?:can|do|is|are|should)|why (?:do|does|is|are|did)|"
    r"my question|in advance|appreciated)\b")
_OFFER_RE = re.compile(
    r"\b(?:you (?:can|could|should|might|may|need|will|want|'ll|would)|i (?:would|'d|d) (?:recommend|suggest|say)|"
    r"i recommend|i suggest|try|in my experience|the reason|because|for example|e\.?g|i\.?e|depends|"
    r"generally|usually|typically|basically|in general|however|this is|there are|there is|"
    r"we (?:are|'re) (?:offering|providing|giving|collecting|accepting|open)|offering|providing|provides|"
    r"available|free|here (?:is|are|'s)|resources|info|information|sign up|if you (?:need|want|are|can)|"
    r"check out|see also|according to|answer|source)\b")
_DONATE_RE = re.compile(r"\b(?:donat\w*|relief|volunteer\w*|red ?cross|shelters?|fundrais\w*|supplies|victims)\b")
_TEXT_CODE_RE = re.compile(r"\btext\w*\s+[a-z]+\s+to\s+\d{4,6}\b")
_CHAT_RE = re.compile(r"\b(?:lol+|lmao|rofl|haha\w*|hehe\w*|brb|wb|omg|ty|thx|nite|night all|bye+|hi+|hey+|"
                      r"hello+|hiya|yo|sup|wassup|ugh+|yay+|aw+|kk|ok+|nah|yeah|yep|cya|later all|g2g|gtg)\b")


def _normalise(text: str) -> str:
    t = text.lower()
    if "&" in t:
        t = _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(1)], t)
    t = _QUOTE_RE.sub("'", t)
    t = _URL_RE.sub(" _url_ ", t)
    t = _MENTION_RE.sub(" _user_ ", t)
    return t


def _bucket(n: int, edges: tuple[int, ...]) -> int:
    for i, e in enumerate(edges):
        if n <= e:
            return i
    return len(edges)


def features(text: str, normalised: str | None = None) -> list[str]:
    """The sparse feature strings of one post (may repeat; the model uses them as a set)."""
    raw = text or ""
    t = _normalise(raw) if normalised is None else normalised
    toks = _TOKEN_RE.findall(t)
    feats: list[str] = []
    add = feats.append
    words: list[str] = []
    nhash = 0
    for tok in toks[:MAX_TOKENS]:
        if tok[0] == "#":
            nhash += 1
            add("h:" + tok[1:])
            tok = tok[1:]
        if tok.isdigit():
            tok = "_year_" if (len(tok) == 4 and tok[:2] in ("19", "20")) else "_num_"
        words.append(tok)
    prev = "<s>"
    for w in words:
        add("w:" + w)
        add("b:" + prev + " " + w)
        prev = w
    add("b:" + prev + " </s>")
    # first words (outside a retweet/mention prefix) and the last word
    k = 0
    while k < len(words) and words[k] in ("rt", "_user_", "_url_"):
        k += 1
    first = words[k:k + 2]
    if first:
        add("f:" + first[0])
        if len(first) > 1:
            add("f2:" + first[0] + " " + first[1])
        if first[0] in _IMPERATIVE:
            add("r:imp_start")
        if first[0] in _WH:
            add("r:wh_start")
    stripped = raw.rstrip()
    nq = raw.count("?")
    if nq:
        add("r:q")
        if nq > 1:
            add("r:q2")
    last = words[-1] if words else ""
    if stripped.endswith("?") or last == "?":
        add("r:q_end")
    if "!" in raw:
        add("r:excl")
    ntok = len(words)
    add("r:len%d" % _bucket(ntok, (2, 5, 10, 20, 40, 80)))
    nsent = len(re.findall(r"[.!?]+(?:\s|$)", raw))
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
    if _FUTURE_RE.search(t):
        add("r:future")
    if _GOAL_RE.search(t):
        add("r:goalw")
    n_req = len(_REQ_RE.findall(t))
    if n_req:
        add("r:req%d" % _bucket(n_req, (1, 2)))
    n_off = len(_OFFER_RE.findall(t))
    if n_off:
        add("r:off%d" % _bucket(n_off, (1, 3, 6)))
    if _DONATE_RE.search(t):
        add("r:donate")
    if _TEXT_CODE_RE.search(t):
        add("r:textcode")
    if _CHAT_RE.search(t):
        add("r:chat")
    if ntok:
        nyou = sum(1 for w in words if w in ("you", "your", "you're", "yours", "u", "ur"))
        ni = sum(1 for w in words if w in ("i", "my", "me", "i'm", "im", "i've", "myself"))
        if nyou:
            add("r:you%d" % _bucket(nyou, (1, 3)))
        if ni:
            add("r:i%d" % _bucket(ni, (1, 3, 6)))
    if raw and raw.isupper() and len(raw) > 3:
        add("r:caps")
    if not words:
        add("r:empty")
    add("r:bias")
    return feats


# --------------------------------------------------------------------------------------------
# Topics
# --------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[a-z][a-z0-9'+-]*[a-z0-9+]|[a-z]")
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


_stem_cache: dict[str, str] = {}


def _stem(w: str) -> str:
    s = _stem_cache.get(w)
    if s is None:
        s = _stem_raw(w)
        if len(_stem_cache) < 200_000:
            _stem_cache[w] = s
    return s


def _stem_raw(w: str) -> str:
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
    pos = 0
    for piece in re.split(r"[.,;:!?()\[\]\"/|]+|\s-\s|_url_|_user_", t):
        prev = None
        for w in _WORD_RE.findall(piece):
            pos += 1
            w = w.strip("'-")
            if len(w) < 3 or w in _TOPIC_STOP or w.isdigit() or not w[0].isalpha():
                prev = None
                continue
            s = _stem(w)
            if s in _TOPIC_STOP:
                prev = None
                continue
            counts[s] = counts.get(s, 0) + 1
            firstpos.setdefault(s, pos)
            if prev is not None:
                bg = prev + "-" + s
                bigrams[bg] = bigrams.get(bg, 0) + 1
            prev = s
    ranked = sorted(counts, key=lambda s: (-counts[s] - (0.5 if len(s) > 6 else 0.0), firstpos[s]))
    repeated = [b for b, c in bigrams.items() if c > 1]
    for b in repeated[:2]:
        push(b)
    for s in ranked:
        push(s)
    if len(out) < limit and bigrams:
        # first phrase of the post, e.g. "cold-brew", "sourdough-starter"
        for b in bigrams:
            push(b)
            break
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


def feature_vector(text: str, normalised: str | None = None) -> tuple[set[str], float]:
    """Binary features of a post and the value each carries (1/sqrt(#features): L2-normalised)."""
    fs = set(features(text, normalised))
    return fs, 1.0 / math.sqrt(len(fs)) if fs else 0.0


def _scores(text: str, normalised: str, weights, bias) -> list[float]:
    fs, v = feature_vector(text, normalised)
    z0 = z1 = z2 = z3 = 0.0
    get = weights.get
    for fe in fs:
        w = get(fe)
        if w is not None:
            z0 += w[0]
            z1 += w[1]
            z2 += w[2]
            z3 += w[3]
    z = [bias[0] + v * z0, bias[1] + v * z1, bias[2] + v * z2, bias[3] + v * z3]
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
