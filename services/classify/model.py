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
from collections import Counter
from dataclasses import dataclass, field

MODEL_VERSION = "intent-lr-2026.11.2"
INTENTS: tuple[str, ...] = ("goal", "request", "offer", "status")

ARTEFACT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artefact", "intent_model.json")

MAX_TOKENS = 120  # features are taken from the first MAX_TOKENS tokens: bounded cost per post
MAX_TOPICS = 8
CUE_VALUE = 0.25  # value of each "r:" cue feature (lexical features share an L2 norm of 1)


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
_EMOTICON_RE = re.compile(r"(?:^|\s)(?:[:;=8][-'^o]?[()\[\]dpo/\\|*3]+|<3|\^_\^|xd+|[(][:;])(?=\s|$)", re.I)
_TOKEN_RE = re.compile(r"_url_|_user_|#?[a-z0-9]+(?:['\u2019][a-z]+)*|[?!,;:]|\.(?:\.\.+)?")
_DIGIT_RE = re.compile(r"[0-9]")
_QUOTE_RE = re.compile(r"[\u2019\u2018`]")

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
    "stay keep fall find give go release register raise adopt attend bring choose clear donate drive "
    "educate enroll enrol express gain heal jog knit lower mend open own pack plan relax remember rest "
    "return ride scale sign simplify speak spread stand surf teach tidy trust turn upgrade wash wear "
    "memorize memorise rebuild restart redo replace renovate remodel repair quit unrush declutter "
    "grow perfect visit master try learn finish start keep".split())
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
    """'a|b c|d' -> {'a', 'b c', 'd'}: words and two-word phrases."""
    return frozenset(" ".join(x.split()) for x in spec.replace("\n", " ").split("|") if x.strip())


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
_YOU = frozenset(("you", "your", "you're", "yours", "u", "ur"))
_ME = frozenset(("i", "my", "me", "i'm", "im", "i've", "myself"))
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


def _tokens(t: str) -> list[str]:
    """The one tokenisation of a normalised post, shared by the features and the topics."""
    return _TOKEN_RE.findall(t)


class _WordMap(dict):
    """token -> the word the features use: numbers and years become placeholders, hashtags lose
    their '#', handles and codes (mike22, sk8r) become `_alnum_`. A bounded memo."""

    def __missing__(self, tok: str) -> str:
        w = tok[1:] if tok[0] == "#" and len(tok) > 1 else tok
        if w.isdigit():
            w = "_year_" if (len(w) == 4 and w[:2] in ("19", "20")) else "_num_"
        elif len(w) > 4 and not w.isalpha() and _ALNUM_RE.match(w):
            w = "_alnum_"
        if len(self) < 300_000:
            self[tok] = w
        return w


_WORD = _WordMap()
_PUNCT_SOFT = frozenset(". , ; : ...".split())


def _cue_map() -> dict:
    """term (a word or a (word, word) bigram) -> the letters of the cue groups it belongs to."""
    groups = (("F", _FUTURE), ("G", _GOALW), ("R", _REQ), ("O", _OFFER), ("D", _DONATE), ("C", _CHAT),
              ("Y", _YOU), ("M", _ME))
    out: dict = {}
    for letter, terms in groups:
        for term in terms:
            key = tuple(term.split(" ")) if " " in term else term
            out[key] = out.get(key, "") + letter
    # punctuation: sentence ends (P), questions (Q), exclamations (E), commas (K)
    out.update({".": "P", "...": "P", "?": "Q", "!": "E", ",": "K"})
    return out


def features(text: str, normalised: str | None = None) -> list[str]:
    """The sparse feature names of one post (as in the artefact): lexical ones, then cue ones."""
    lex, cue = _extract(text or "", normalised)
    return sorted(set(map(feature_name, lex))) + cue


def feature_name(f) -> str:
    """Runtime feature key -> its name in the artefact: a word `w` -> 'w:w', a bigram
    ('a', 'b') -> 'b:a b'; hashtag ('h:'), first-word ('f:', 'f2:') and cue ('r:') names as they are."""
    if f.__class__ is tuple:
        return "b:" + f[0] + " " + f[1]
    if ":" in f and f[:2] in ("h:", "f:", "f2", "r:"):
        return f
    return "w:" + f


def feature_key(name: str):
    """The inverse of feature_name."""
    if name.startswith("w:"):
        return name[2:]
    if name.startswith("b:"):
        a, _, b = name[2:].partition(" ")
        return (a, b)
    return name


def _extract(raw: str, normalised: str | None = None, toks: list[str] | None = None) -> tuple[list, list[str]]:
    """(lexical feature keys, cue feature names) of one post. Lexical keys: words (str), bigrams
    ((str, str) tuples, with <s> and </s> at the ends), 'h:' hashtags, 'f:'/'f2:' first words.
    Repeated words and bigrams are repeated (a term-frequency weight)."""
    t = _normalise(raw) if normalised is None else normalised
    if toks is None:
        toks = _TOKEN_RE.findall(t)
    if len(toks) > MAX_TOKENS:
        toks = toks[:MAX_TOKENS]
    words = list(map(_WORD.__getitem__, toks)) if ("#" in t or _DIGIT_RE.search(t)) else toks
    cue: list[str] = []
    add = cue.append
    core = [w for w in words if w not in _PUNCT_SOFT] if ("," in t or "." in t or ":" in t or ";" in t) else words
    bigrams = list(zip(["<s>"] + core, core + ["</s>"]))  # bigrams skip . , ; : (their unigrams stay)
    lex: list = words + bigrams
    if "#" in t:
        hs = ["h:" + x[1:] for x in toks if x[0] == "#"]
        if hs:
            lex += hs
            add("r:hash%d" % _bucket(len(hs), (1, 3)))
    # first words (outside a retweet/mention prefix)
    k = 0
    n = len(words)
    while k < n and words[k] in _SKIP_FIRST:
        k += 1
    if k < n:
        w0 = words[k]
        lex.append("f:" + w0)
        if k + 1 < n:
            lex.append("f2:" + w0 + " " + words[k + 1])
        if w0 in _IMPERATIVE:
            add("r:imp_start")
        if w0 in _WH:
            add("r:wh_start")
    hits = "".join(filter(None, map(_CUES.get, lex)))
    nq = hits.count("Q")
    if nq:
        add("r:q")
        if nq > 1:
            add("r:q2")
        qi = words.index("?")
        if qi <= 15:
            add("r:q_early")
        elif qi <= 40:
            add("r:q_mid")
        # first sentence is a question (forum title / opening question)
        for w in words:
            if w in _SENT_END:
                if w == "?":
                    add("r:first_sent_q")
                break
        if words[-1] == "?" or raw.rstrip().endswith("?"):
            add("r:q_end")
    if _TITLE_RE.match(raw):
        add("r:title")  # "Some title words Then the body starts": a forum question's title + body
    if "!" in raw:
        add("r:excl")
    nstop = hits.count("P")
    nw = n - hits.count("K") - nstop
    add("r:len%d" % _bucket(nw, (2, 5, 10, 20, 40, 80)))
    nsent = nstop + nq + hits.count("E")
    add("r:sent%d" % _bucket(nsent, (0, 1, 3, 6)))
    if "_url_" in t:
        add("r:url")
    if "_user_" in t:
        add("r:mention")
        if words[:1] == ["rt"] or " rt _user_" in t:
            add("r:rt")
    if ":" in raw or ";" in raw or "=" in raw or "<3" in raw or "^_^" in raw or "xd" in t:
        if _EMOTICON_RE.search(raw):
            add("r:emoticon")
    if hits:
        longp = "L" if nw > 40 else ("M" if nw > 15 else "S")  # cue x length conjunctions
        if "F" in hits:
            add("r:future")
            add("r:future" + longp)
        if "G" in hits:
            add("r:goalw")
            add("r:goalw" + longp)
        c = hits.count("R")
        if c:
            add("r:req%d" % _bucket(c, (1, 2)))
        c = hits.count("O")
        if c:
            add("r:off%d" % _bucket(c, (1, 3, 6)))
        if "D" in hits:
            add("r:donate")
        if "C" in hits:
            add("r:chat")
        c = hits.count("Y")
        if c:
            add("r:you%d" % _bucket(c, (1, 3)))
        c = hits.count("M")
        if c:
            add("r:i%d" % _bucket(c, (1, 3, 6)))
    if "text" in t and _TEXT_CODE_RE.search(t):
        add("r:textcode")
    if len(raw) > 3 and raw.isupper():
        add("r:caps")
    if not n:
        add("r:empty")
    add("r:bias")
    return lex, cue


_CUES = _cue_map()
_SKIP_FIRST = frozenset(("rt", "_user_", "_url_", ".", ",", ":", ";", "...", "!"))
_SENT_END = frozenset((".", "?", "!", "..."))


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


class _TopicMap(dict):
    """token -> its topic form, or '' when it cannot be a topic (stopword, punctuation, short,
    number, placeholder, hashtag: hashtags are handled apart). A bounded memo."""

    def __missing__(self, tok: str) -> str:
        w = tok.strip("'")
        if len(w) < 3 or w in _TOPIC_STOP or not w[0].isalpha():
            s = ""
        else:
            s = _stem(w)
            if s in _TOPIC_STOP:
                s = ""
        if len(self) < 300_000:
            self[tok] = s
        return s


_TOPIC = _TopicMap()
MAX_TOPIC_TOKENS = 600  # topics are taken from the first MAX_TOPIC_TOKENS tokens


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
           normalised: str | None = None, toks: list[str] | None = None) -> list[str]:
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
    if toks is None:
        toks = _TOKEN_RE.findall(_normalise(text or "") if normalised is None else normalised)
    if len(toks) > MAX_TOPIC_TOKENS:
        toks = toks[:MAX_TOPIC_TOKENS]
    if normalised is None or "#" in normalised:
        for tok in toks:
            if tok[0] == "#" and len(tok) > 1:
                h = tok[1:]
                if not h.isdigit() and h not in _TOPIC_STOP:
                    push(_stem(normalise_tag(h)))
        if len(out) >= limit:
            return out
    stems = list(map(_TOPIC.__getitem__, toks))
    counts = Counter(filter(None, stems))  # in order of first occurrence
    if not counts:
        return out
    bigrams = Counter([a + "-" + b for a, b in zip(stems, stems[1:]) if a and b])
    if bigrams:
        for b in [b for b, c in bigrams.items() if c > 1][:2]:
            push(b)
    # most frequent first (long words get a half-count bonus), ties by first position
    for w in counts:
        if len(w) > 6:
            counts[w] += 0.5
    ranked = sorted(counts, key=counts.__getitem__, reverse=True)  # stable: ties keep their order
    for w in ranked[:limit]:
        push(w)
    if len(out) < limit and bigrams:
        # the phrase whose words are most frequent, e.g. "cold-brew", "sourdough-starter"
        best, bk = "", None
        for b, c in bigrams.items():
            x, _, y = b.partition("-")
            k = (c, counts[x] + counts[y])
            if bk is None or k > bk:
                best, bk = b, k
        push(best)
    return out


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

_lock = threading.Lock()
_model: tuple[dict[str, list[float]], list[float], tuple[str, ...]] | None = None


def load_artefact(path: str = ARTEFACT_PATH) -> tuple[dict, list[float], tuple[str, ...]]:
    """(weights keyed by runtime feature key (see feature_key), bias, labels)."""
    with open(path, "rb") as f:
        data = json.loads(f.read())
    labels = tuple(data["labels"])
    if len(labels) != 4:
        raise ValueError("artefact must have exactly four labels")
    weights = {feature_key(k): tuple(float(x) for x in v) for k, v in data["weights"].items()}
    bias = [float(x) for x in data["bias"]]
    return weights, bias, labels


def _get_model():
    global _model
    m = _model
    if m is None:
        with _lock:
            if _model is None:
                _model = load_artefact()
                for k in _model[0]:  # fill the token memos with the model's vocabulary
                    if k.__class__ is str and ":" not in k:
                        _WORD[k]
                        _TOPIC[k]
            m = _model
    return m


def reset_model_cache() -> None:
    global _model
    with _lock:
        _model = None


def feature_vector(text: str, normalised: str | None = None) -> tuple[list, list[str], float]:
    """(lexical feature keys, cue features, lexical value). The lexical features (words, bigrams,
    first words, hashtags) carry 1/sqrt(#lexical) each (L2-normalised, so long posts do not get
    extreme scores; at scoring time the count is over the features the model knows), the cue
    features ("r:...") carry CUE_VALUE whatever the length."""
    lex, cue = _extract(text or "", normalised)
    return lex, cue, (1.0 / math.sqrt(len(lex)) if lex else 0.0)


def _scores(text: str, normalised: str, weights, bias, toks: list[str] | None = None) -> list[float]:
    lex, cue = _extract(text, normalised, toks)
    get = weights.get
    ws = list(filter(None, map(get, lex)))  # known features, in a deterministic order
    if ws:
        v = 1.0 / math.sqrt(len(ws))  # normalise over the features the model knows
        z = [b + v * x for b, x in zip(bias, map(sum, zip(*ws)))]
    else:
        z = list(bias)
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
        probs = [0.0] * len(labels)
        probs[labels.index("status")] = 1.0
        return Classification("status", 1.0, dict(zip(labels, probs)), topics("", tags))
    t = _normalise(text)
    toks = _TOKEN_RE.findall(t)  # one tokenisation for the features and the topics
    probs = _scores(text, t, weights, bias, toks)
    p = max(probs)
    return Classification(labels[probs.index(p)], p, dict(zip(labels, probs)),
                          topics(text, tags, normalised=t, toks=toks))


def classify_batch(texts: list[str], tags: list[list[str]] | None = None) -> list[Classification]:
    if tags is None:
        return [classify(t) for t in texts]
    if len(tags) != len(texts):
        raise ValueError("tags must have one list per text")
    return [classify(t, tg) for t, tg in zip(texts, tags)]
