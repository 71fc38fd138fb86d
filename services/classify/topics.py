"""Routing topics of a post: its tags, its hashtags, then salient words and phrases."""
from __future__ import annotations

import re
from collections import Counter

from services.classify.features import _TOKEN_RE, _normalise

MAX_TOPICS = 8

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
    counts: dict[str, float] = dict(Counter(filter(None, stems)))  # in order of first occurrence
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
