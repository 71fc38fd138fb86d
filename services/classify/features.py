"""Features of a post for the intent model: one normalisation and tokenisation, then sparse
lexical keys (words, bigrams, hashtags, first words) and linguistic cue features (``r:...``).

Shared by inference (``model.py``) and training (``training/``), so both see the same features.
"""
from __future__ import annotations

import re

MAX_TOKENS = 120  # features are taken from the first MAX_TOKENS tokens: bounded cost per post

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


# cues whose count matters: (cue letter, feature, bucket bounds of the count)
_COUNTED_CUES = (("R", "r:req", (1, 2)), ("O", "r:off", (1, 3, 6)), ("Y", "r:you", (1, 3)), ("M", "r:i", (1, 3, 6)))


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
        for letter, name, bounds in _COUNTED_CUES:
            c = hits.count(letter)
            if c:
                add("%s%d" % (name, _bucket(c, bounds)))
        if "D" in hits:
            add("r:donate")
        if "C" in hits:
            add("r:chat")
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


def encode(lex: list, cue: list[str], vocab: dict, cue_value: float) -> tuple[list[int], list[float]]:
    """(column indices, values) of one post's sparse row. Lexical features share an L2-style norm
    over the ones the model knows (long posts get no extreme scores); cues carry ``cue_value``
    whatever the length. Repeated words repeat their index (the matrix sums them)."""
    get = vocab.get
    idx = [i for i in map(get, lex) if i is not None]
    vals = [1.0 / len(idx) ** 0.5] * len(idx) if idx else []
    if cue_value:
        cidx = [i for i in map(get, cue) if i is not None]
        idx += cidx
        vals += [cue_value] * len(cidx)
    return idx, vals


def extract(text: str) -> tuple[str, list[str], list, list[str]]:
    """(normalised text, tokens, lexical keys, cue names): the one pass over a post that both the
    intent features and the topics read."""
    t = _normalise(text)
    toks = _TOKEN_RE.findall(t)
    lex, cue = _extract(text, t, toks)
    return t, toks, lex, cue
