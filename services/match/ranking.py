"""Helper expertise learned from the event stream, and helper ranking.

Pure logic: standard library only, no Kafka or Redis.  The service feeds events in
(``observe_post`` / ``observe_reaction`` / ``observe_relation``), asks ``rank`` for the
helpers of a new post, and records what it routed (``route`` / ``close``) so the capacity
cap can be enforced.  ``goalpost eval match`` (services/match/evaluate.py) replays files
through this very class.

State is deliberately simple so that a Redis-backed store can hold it later (several
workers sharing one index):

* postings: ``term -> Postings`` (``helper_id -> weight``, at most ``max_postings_per_term`` of
  them: the heaviest).  Weights decay exponentially with time.  The
  decay uses one global clock: a weight added at time ``t`` is stored as
  ``w * exp((t - t0) / tau)`` and read back multiplied by ``exp(-(now - t0) / tau)``.  So an
  update touches only the terms of that one post, and nothing ever has to be rewritten as time
  passes (``t0`` is moved forward, rescaling everything, only after ~600 ``tau``).
* per helper (``HelperState``): total profile weight (same clock), answer count, a lazily
  decayed "recent answers" counter ``(value, ts)``, net accepts, net votes, last active time,
  open inbox count.
* relations: who follows / blocks whom.
* small bounded caches: root post -> (author, terms); reply -> (author, root) so a later
  reply or reaction can be attributed; (actor, post) reactions; the "@asker" pseudo-terms are
  an LRU.  Every structure except the word vocabulary and the state of helpers is bounded, so
  memory stays flat on a long stream.  Users who never answered (askers, voters) are far more
  numerous than helpers and their state is only a last-active time: the least recently active
  of them are forgotten past ``max_idle_users`` (an answer recreates the state, and its own time
  is their latest activity then).

Every method is a deterministic function of the events it was given (ties are broken by
helper id), so two workers that saw the same events rank the same way.
"""

from __future__ import annotations

import heapq
import math
import re
import sys
from array import array
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Optional

__all__ = [
    "Candidate",
    "HelperState",
    "Postings",
    "MatchConfig",
    "ExpertiseIndex",
    "tokenize",
    "post_terms",
    "to_epoch",
]

DAY = 86400.0

# Small English + French stop list: words that say nothing about a topic.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any anyone anything are aren as at be
    because been before being below between both but by can cannot could couldn did didn do does
    doesn doing don down during each else etc even ever every few for from further get gets getting
    got had has hasn have haven having he her here hers herself him himself his how however i if in
    into is isn it its itself just know like ll make many may me might more most much must my
    myself need no nor not now of off on once one only or other our ours ourselves out over own
    please re really same say see seem seems she should so some something still such than thank
    thanks that the their theirs them themselves then there these they thing things think this
    those though through to too under until up us use used using ve very want was wasn way we well
    were weren what when where whether which while who whom why will with without would wouldn yes
    yet you your yours yourself yourselves http https www com org
    au aux avec ce ces dans de des du elle en est et eux il ils je la le les leur lui ma mais me
    mes moi mon ne nos notre nous ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu
    un une vos votre vous est sont été être avoir ai as avons avez ont cette cet
    """.split()
)

_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)


def iter_tokens(text: str) -> Iterator[str]:
    """Lower-case word tokens, stop words and 1-letter tokens removed, light plural stemming.
    Lazy: callers that keep only the first distinct words stop reading a long post early."""
    for match in _TOKEN_RE.finditer(text.lower()):
        tok = match.group()
        if len(tok) < 2 or tok in STOPWORDS:
            continue
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        yield tok


def tokenize(text: str) -> list[str]:
    return list(iter_tokens(text))


def to_epoch(value: Any) -> float:
    """RFC 3339 string, datetime or number -> seconds since the epoch (UTC)."""
    if value is None:
        return datetime.now(timezone.utc).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        dt = value
    else:
        s = str(value).strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


@dataclass
class MatchConfig:
    """Ranking knobs.  One config is used for every evaluation file (see README)."""

    # --- what a post says (terms) ---
    tag_weight: float = 2.0          # a tag / topic counts this many words
    text_term_cap: int = 60          # at most this many distinct words of a post are used
    own_text_weight: float = 0.25    # a reply's own words, next to the root post's words
    ask_weight: float = 0.0          # the author's own question feeds their profile this much
    author_term_weight: float = 1.0  # pseudo-term "@asker": helped this asker before
    # --- text relevance (BM25 over each helper's decayed profile) ---
    k1: float = 1.2
    b: float = 0.5
    profile_half_life_days: float = 365.0
    # --- score = sum of weighted features ---
    w_text: float = 0.5              # times log(1 + bm25)
    w_recent: float = 1.0            # times log(1 + answers in the last ~half-life, decayed)
    recent_half_life_days: float = 14.0
    w_recent_short: float = 1.0      # times log(1 + answers, decayed with a short half-life)
    recent_short_half_life_days: float = 2.0
    w_last_answers: float = 0.5      # times log(1 + how many of the site's last N answers)
    last_answers_n: int = 20
    w_answers: float = 0.1           # times log(1 + all answers)
    w_active: float = 1.0            # times exp(-(now - last active) / active_tau)
    active_tau_days: float = 2.0
    w_active_short: float = 0.5      # times exp(-(now - last active) / active_short_tau)
    active_short_tau_days: float = 0.25
    w_accepted: float = 0.05         # times log(1 + net accepted answers)
    w_votes: float = 0.05            # times log(1 + net upvotes + thanks)
    w_follow: float = 0.5            # helper follows the author or the author follows the helper
    w_load: float = 0.0              # minus this per open (routed, unanswered) request
    # --- candidate generation (keeps rank() fast with many helpers) ---
    max_postings_scan: int = 150     # terms with more postings only score existing candidates
    max_candidates: int = 100        # once this many, further terms only score existing ones
    hot_size: int = 60               # plus the top helpers by recent answers
    recent_size: int = 60            # plus the most recently active users
    common_df_fraction: float = 0.05  # query terms in more than this share of profiles ...
    common_df_min: int = 2000         # ... and in more than this many are skipped (near-zero IDF)
    answerers_only: bool = True      # only users who have answered at least once are candidates
    # --- capacity ---
    capacity: Optional[int] = 20     # helpers with this many open requests are skipped (None: off)
    route_ttl_days: float = 7.0      # an unanswered routed request stops counting after this
    # --- memory bounds (memory stays flat however long the stream runs) ---
    # The caches below cost, full, about 630 bytes a root (40 terms), 300 a reply and 240 a
    # reaction: ~75 MiB together. Their earlier sizes (100k / 300k / 200k, ~190 MiB) took the
    # match service past its 300 MiB budget in the warmed-up soak (docs/benchmarks.md).
    max_postings_per_term: int = 100   # a term keeps its heaviest (most recent) helpers only
    max_terms: int = 300_000         # vocabulary kept; past it the rarest, least recent terms go
    max_asker_terms: int = 50_000    # "@asker" pseudo-terms kept (least recently used dropped)
    max_reactions: int = 50_000      # (actor, post) reactions remembered for unvote/unaccept
    max_cached_roots: int = 50_000   # root posts whose terms later replies can still learn from
    max_cached_posts: int = 100_000  # replies kept to attribute reactions / replies-to-replies
    # Users whose state is only a last-active time (never answered, nothing credited or routed).
    # Kept forever they grew without end: 1.5 million one-off voters took match to 528 MiB.
    max_idle_users: int = 50_000


@dataclass(frozen=True)
class Candidate:
    helper_id: str
    score: float
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"helper_id": self.helper_id, "score": self.score, "reasons": list(self.reasons)}


_SLOTS = tuple(range(4096))   # shared int objects for postings slots (CPython caches only <= 256)


class Postings:
    """One term's postings: helper -> slot in an array of weights, i.e. 8 bytes a weight
    instead of a 24-byte float object (the slot ints are shared objects). Helpers are only ever
    appended: the k-th helper in the dict's order has slot k."""

    __slots__ = ("slot", "w")

    def __init__(self) -> None:
        self.slot: dict[str, int] = {}
        self.w = array("d")

    def __len__(self) -> int:
        return len(self.slot)

    def __contains__(self, helper_id: object) -> bool:
        return helper_id in self.slot

    def get(self, helper_id: str, default: Optional[float] = None) -> Optional[float]:
        i = self.slot.get(helper_id)
        return default if i is None else self.w[i]

    def items(self) -> Iterable[tuple[str, float]]:
        w = self.w
        return [(hid, w[i]) for hid, i in self.slot.items()]

    def add(self, helper_id: str, v: float) -> bool:
        """Add v to the helper's weight; True if the helper is new to this term."""
        i = self.slot.get(helper_id)
        if i is None:
            n = len(self.w)
            self.slot[helper_id] = _SLOTS[n] if n < len(_SLOTS) else n
            self.w.append(v)
            return True
        self.w[i] += v
        return False


class HelperState:
    """Per-user state.  Plain numbers only, so it maps to one Redis hash."""

    __slots__ = ("id", "doclen", "answers", "recent", "recent_short", "recent_ts", "accepted",
                 "votes", "last_active", "open")

    def __init__(self, user_id: str = "") -> None:
        self.id = user_id        # the one shared copy of the id string (postings, caches)
        self.doclen = 0.0        # sum of the helper's posting weights (global clock scale)
        self.answers = 0         # replies to other people's root posts
        self.recent = 0.0        # answers, decayed with recent_half_life, as of recent_ts
        self.recent_short = 0.0  # the same with recent_short_half_life
        self.recent_ts = 0.0
        self.accepted = 0        # net accepted answers
        self.votes = 0           # net upvotes + thanks - downvotes
        self.last_active = float("-inf")
        self.open = 0            # routed requests not answered yet

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__ if name != "id"}


def _is_bare(h: HelperState) -> bool:
    """Nothing learnt about the user but when they were last active."""
    return (h.answers == 0 and h.doclen == 0.0 and h.recent == 0.0 and h.accepted == 0 and h.votes == 0
            and h.open == 0)


def post_terms(text: str, tags: Iterable[str] | None, topics: Iterable[str] | None,
               config: MatchConfig) -> dict[str, float]:
    """Term weights of one post: its distinct words (weight 1) plus tags/topics as '#tag'."""
    terms: dict[str, float] = {}
    for tok in iter_tokens(text or ""):
        if tok not in terms:
            terms[tok] = 1.0
            if len(terms) >= config.text_term_cap:
                break
    for group in (tags, topics):
        for tag in group or ():
            t = "#" + str(tag).strip().lower()
            if len(t) > 1:
                terms[t] = config.tag_weight
    return terms


class ExpertiseIndex:
    """In-memory expertise index.  See the module doc for the state it keeps."""

    _REBASE_AT = 600.0  # rescale the global clock before exp() can overflow

    def __init__(self, config: MatchConfig | None = None):
        self.config = config or MatchConfig()
        c = self.config
        self._tau_profile = c.profile_half_life_days * DAY / math.log(2)
        self._tau_recent = c.recent_half_life_days * DAY / math.log(2)
        self._tau_recent_short = c.recent_short_half_life_days * DAY / math.log(2)
        self._tau_active = c.active_tau_days * DAY
        self._tau_active_short = c.active_short_tau_days * DAY
        self._last_answers: deque[str] = deque()   # the site's last N answerers
        self._last_counts: dict[str, int] = {}
        self._t0: Optional[float] = None
        self.postings: dict[str, Postings] = {}
        self._terms_slack = c.max_terms + max(c.max_terms // 10, 1)
        self._df_extra: dict[str, int] = {}         # helpers trimmed off a term's postings
        self._askers: OrderedDict[str, None] = OrderedDict()  # "@asker" terms, LRU order
        self.helpers: dict[str, HelperState] = {}
        self._n_profiles = 0
        self._total_len = 0.0
        self._roots: OrderedDict[str, tuple[str, tuple[str, ...], str]] = OrderedDict()
        self._replies: OrderedDict[str, tuple[str, Optional[str]]] = OrderedDict()
        # (actor, post[, kind]) -> vote / accept / thanks; oldest forgotten past max_reactions
        self._reactions: OrderedDict[tuple, str] = OrderedDict()
        self.follows: dict[str, set[str]] = {}      # follower -> followees
        self.blocks: dict[str, set[str]] = {}       # blocker -> blocked
        self._blocked_by: dict[str, set[str]] = {}  # blocked -> blockers
        self._hot: dict[str, float] = {}            # helper -> time-invariant recent-answer key
        self._recent_users: OrderedDict[str, None] = OrderedDict()
        self._idle_users: OrderedDict[str, None] = OrderedDict()  # bare states, least recently active first
        # post -> (routed at, its helpers still counting). A tuple, not a set: a set of ten ids
        # takes ~730 bytes, the tuple 136, and a route is changed once or twice in its life.
        self._routes: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()

    # ------------------------------------------------------------------ helpers
    def _helper(self, user_id: str) -> HelperState:
        h = self.helpers.get(user_id)
        if h is None:
            h = self.helpers[user_id] = HelperState(user_id)
        return h

    def _clock(self, t: float) -> float:
        """exp((t - t0)/tau) for profile weights, rebasing t0 when it would overflow."""
        if self._t0 is None:
            self._t0 = t
        x = (t - self._t0) / self._tau_profile
        if x > self._REBASE_AT:
            self._rebase(t)
            x = 0.0
        return math.exp(x)

    def _rebase(self, t: float) -> None:
        f = math.exp(-(t - self._t0) / self._tau_profile)
        for plist in self.postings.values():
            w = plist.w
            for i in range(len(w)):
                w[i] *= f
        for h in self.helpers.values():
            h.doclen *= f
        self._total_len *= f
        self._t0 = t

    def _touch(self, user_id: str, t: float) -> HelperState:
        h = self._helper(user_id)
        if t > h.last_active:
            h.last_active = t
        self._recent_users[h.id] = None
        self._recent_users.move_to_end(h.id)
        if len(self._recent_users) > max(self.config.recent_size * 4, 64):
            self._recent_users.popitem(last=False)
        if _is_bare(h):
            idle = self._idle_users
            idle[h.id] = None
            idle.move_to_end(h.id)
            if len(idle) > self.config.max_idle_users:
                self._forget_idle_user(idle.popitem(last=False)[0])
        return h

    def _forget_idle_user(self, user_id: str) -> None:
        """Drops a user's state if it still holds nothing but a last-active time. One of the
        recently active users (a candidate source of rank()) is kept, and stays in line."""
        h = self.helpers.get(user_id)
        if h is None or not _is_bare(h):
            return  # answered or was credited since: a helper now, kept
        if user_id in self._recent_users:
            self._idle_users[user_id] = None
        else:
            del self.helpers[user_id]

    def _add_terms(self, h: HelperState, terms: dict[str, float], scale: float) -> None:
        if h.doclen == 0.0 and terms:
            self._n_profiles += 1
        uid = h.id
        postings = self.postings
        cap = self.config.max_postings_per_term
        slack = cap + max(cap >> 2, 1)
        added = 0.0
        n_slots = len(_SLOTS)
        for term, w in terms.items():
            v = w * scale
            added += v
            plist = postings.get(term)
            if plist is None:
                plist = postings[term] = Postings()
            # Postings.add, inlined: this loop runs for every term of every reply
            slot, ws = plist.slot, plist.w
            i = slot.get(uid)
            if i is not None:
                ws[i] += v
                continue
            n = len(ws)
            slot[uid] = _SLOTS[n] if n < n_slots else n
            ws.append(v)
            if n >= slack:
                self._trim(term, plist, cap)
        h.doclen += added
        self._total_len += added
        if len(postings) > self._terms_slack:
            self._prune_terms()

    def _prune_terms(self) -> None:
        """Real text has an open vocabulary (names, typos, one-off words), so the terms, unlike
        the helpers per term, would grow without end. Past max_terms + 10% this drops terms down
        to max_terms: the fewest helpers first, then the lowest (oldest) weight. "@asker" terms
        have their own bound. Profile lengths are unchanged, as when postings are trimmed."""
        keep = self.config.max_terms
        postings, df_extra = self.postings, self._df_extra
        ranked = sorted((len(plist), max(plist.w, default=0.0), term) for term, plist in postings.items()
                        if not term.startswith("@"))
        for _, _, term in ranked[:max(0, len(postings) - keep)]:
            del postings[term]
            df_extra.pop(term, None)

    def _trim(self, term: str, plist: Postings, cap: int) -> None:
        """Keep a term's cap heaviest postings.  Stored weights share one clock, so the
        heaviest are the helpers who used the term most and most recently; the ones dropped
        only counted toward a very common (low-IDF) term.  The document frequency keeps
        counting them (``_df_extra``), and profile lengths are unchanged."""
        ws = plist.w
        threshold = sorted(ws, reverse=True)[cap - 1]
        # Slots are handed out in insertion order, so the ids in dict order line up with ws.
        kept = [(hid, w) for hid, w in zip(plist.slot, ws) if w >= threshold]  # ties: all kept
        keep = Postings()  # built in bulk: trims were a seventh of match's time under load
        keep.slot = dict(zip([hid for hid, _ in kept], _SLOTS if len(kept) <= len(_SLOTS) else range(len(kept))))
        keep.w = array("d", [w for _, w in kept])
        self._df_extra[term] = self._df_extra.get(term, 0) + len(plist) - len(keep)
        self.postings[term] = keep

    def _asker_term(self, asker: str) -> str:
        """The "@asker" pseudo-term, kept in LRU order: past max_asker_terms the least recently
        used one is dropped with its postings, so the vocabulary does not grow per asker."""
        term = "@" + asker
        askers = self._askers
        if term in askers:
            askers.move_to_end(term)
        else:
            askers[term] = None
            if len(askers) > self.config.max_asker_terms:
                old, _ = askers.popitem(last=False)
                self.postings.pop(old, None)
                self._df_extra.pop(old, None)
        return term

    def _df(self, term: str, plist: Postings) -> int:
        """Helpers who used the term, the ones trimmed off its postings included. One trimmed
        off and added back later is counted twice: never more than the number of profiles, or
        the IDF turns negative."""
        return min(len(plist) + self._df_extra.get(term, 0), self._n_profiles)

    def _bump_recent(self, user_id: str, h: HelperState, t: float, delta: float) -> None:
        if t > h.recent_ts:
            if h.recent > 0.0:
                h.recent *= math.exp(-(t - h.recent_ts) / self._tau_recent)
            if h.recent_short > 0.0:
                h.recent_short *= math.exp(-(t - h.recent_ts) / self._tau_recent_short)
            h.recent_ts = t
        h.recent = max(0.0, h.recent + delta)
        h.recent_short = max(0.0, h.recent_short + delta)
        if delta > 0 and self.config.last_answers_n > 0:
            self._last_answers.append(user_id)
            self._last_counts[user_id] = self._last_counts.get(user_id, 0) + 1
            if len(self._last_answers) > self.config.last_answers_n:
                old = self._last_answers.popleft()
                left = self._last_counts[old] - 1
                if left:
                    self._last_counts[old] = left
                else:
                    del self._last_counts[old]
        # Key that orders helpers by decayed recent answers at any time: log(v) + ts / tau.
        if h.recent > 0.0:
            key = math.log(h.recent) + (h.recent_ts - (self._t0 or 0.0)) / self._tau_recent
            hot = self._hot
            hot[user_id] = key
            if len(hot) > self.config.hot_size:
                worst = min(hot, key=lambda u: (hot[u], u))
                del hot[worst]
        else:
            self._hot.pop(user_id, None)

    @staticmethod
    def _cache(cache: OrderedDict, key: str, value: Any, limit: int) -> None:
        cache[key] = value
        if len(cache) > limit:
            cache.popitem(last=False)

    def _remember(self, key: tuple, value: str) -> None:
        self._reactions[key] = value
        if len(self._reactions) > self.config.max_reactions:
            self._reactions.popitem(last=False)

    # ------------------------------------------------------------------ events
    def observe_post(self, post: dict, topics: list[str] | None = None) -> None:
        """Learn from any post.  A reply to someone else's root post makes its author an
        answerer of that post's terms/topics (plus, with less weight, their own words)."""
        c = self.config
        author = str(post["author_id"])
        t = to_epoch(post.get("created_at"))
        h = self._touch(author, t)
        post_id = str(post.get("post_id") or "")
        reply_to = post.get("reply_to")
        if topics is None:
            topics = post.get("topics")
        if not reply_to:
            terms = post_terms(post.get("text", ""), post.get("tags"), topics, c)
            if post_id:   # kept compactly: interned term strings (weights follow from '#')
                self._cache(self._roots, post_id,
                            (h.id, tuple(map(sys.intern, terms)), post_id), c.max_cached_roots)
            if c.ask_weight > 0 and terms:
                self._add_terms(h, {k: v * c.ask_weight for k, v in terms.items()},
                                self._clock(t))
            return
        reply_to = str(reply_to)
        root_id: Optional[str] = reply_to
        if reply_to not in self._roots and reply_to in self._replies:
            root_id = self._replies[reply_to][1]          # reply to a reply: find the root
        root = self._roots.get(root_id) if root_id else None
        if root is not None:
            root_id = root[2]                             # the cache's copy of the id string
        if post_id:
            self._cache(self._replies, post_id, (h.id, root_id), c.max_cached_posts)
        if root is not None and root[0] == author:
            return                                        # the asker talking in their own thread
        terms: dict[str, float] = {}
        if root is not None:
            tag_w = c.tag_weight
            for term in root[1]:
                terms[term] = tag_w if term[0] == "#" else 1.0
            if c.author_term_weight > 0:
                terms[self._asker_term(root[0])] = c.author_term_weight
        if c.own_text_weight > 0:
            own: set[str] = set()
            for tok in iter_tokens(post.get("text", "")):
                if tok not in own:
                    own.add(tok)
                    terms[tok] = terms.get(tok, 0.0) + c.own_text_weight
                    if len(own) >= c.text_term_cap:
                        break
        self._add_terms(h, terms, self._clock(t))
        h.answers += 1
        self._bump_recent(h.id, h, t, 1.0)
        if root_id:
            self.close(root_id, author)

    def _reply_author(self, post_id: str) -> Optional[str]:
        r = self._replies.get(post_id)
        return r[0] if r else None

    def observe_reaction(self, reaction: dict) -> None:
        """accept / thanks / upvote raise the reply author's track record; unaccept and unvote
        undo the actor's earlier accept or vote on that post; downvote lowers it."""
        actor = str(reaction.get("actor_id", ""))
        post_id = str(reaction.get("post_id", ""))
        kind = reaction.get("kind")
        if actor:
            self._touch(actor, to_epoch(reaction.get("created_at")))
        target = self._reply_author(post_id)
        if target is None or target == actor:
            return
        h = self._helper(target)
        key = (actor, post_id)
        if kind == "accept":
            if (actor, post_id, "accept") not in self._reactions:
                self._remember((actor, post_id, "accept"), "accept")
                h.accepted += 1
        elif kind == "unaccept":
            if self._reactions.pop((actor, post_id, "accept"), None):
                h.accepted -= 1
        elif kind in ("upvote", "downvote"):
            delta = 1 if kind == "upvote" else -1
            prev = self._reactions.get(key)
            if prev != kind:
                h.votes += delta - ({"upvote": 1, "downvote": -1}.get(prev, 0))
                self._remember(key, kind)
        elif kind == "unvote":
            prev = self._reactions.pop(key, None)
            h.votes -= {"upvote": 1, "downvote": -1}.get(prev, 0)
        elif kind == "thanks":
            if (actor, post_id, "thanks") not in self._reactions:
                self._remember((actor, post_id, "thanks"), "thanks")
                h.votes += 1

    def observe_relation(self, relation: dict) -> None:
        """follow / unfollow / block / unblock."""
        a = str(relation.get("actor_id", ""))
        b = str(relation.get("target_id", ""))
        kind = relation.get("kind")
        if not a or not b or a == b:
            return
        if kind == "follow":
            self.follows.setdefault(a, set()).add(b)
        elif kind == "unfollow":
            self.follows.get(a, set()).discard(b)
        elif kind == "block":
            self.blocks.setdefault(a, set()).add(b)
            self._blocked_by.setdefault(b, set()).add(a)
        elif kind == "unblock":
            self.blocks.get(a, set()).discard(b)
            self._blocked_by.get(b, set()).discard(a)

    # ------------------------------------------------------------------ inbox accounting
    def route(self, post_id: str, helper_ids: Iterable[str], now: Any = None) -> None:
        """Record that post_id was routed to helper_ids (they count against capacity)."""
        t = to_epoch(now)
        self.expire_routes(t)
        helper_ids = list(helper_ids)
        if not helper_ids:  # nothing to count: an empty entry would stay until the TTL (a leak)
            return
        routed_at, helpers = self._routes.get(post_id, (t, ()))
        added = []
        for hid in dict.fromkeys(helper_ids):
            if hid not in helpers:
                h = self._helper(hid)
                h.open += 1
                added.append(h.id)  # the shared copy: the match record's own strings were ~35 MiB
        self._routes[post_id] = (routed_at, helpers + tuple(added))

    def close(self, post_id: str, helper_id: str) -> None:
        """The helper answered (or dismissed) post_id: it no longer counts against capacity."""
        entry = self._routes.get(post_id)
        if entry and helper_id in entry[1]:
            entry = self._routes[post_id] = (entry[0], tuple(h for h in entry[1] if h != helper_id))
            h = self.helpers.get(helper_id)
            if h and h.open > 0:
                h.open -= 1
            if not entry[1]:
                del self._routes[post_id]

    def expire_routes(self, now: Any = None) -> None:
        """Routed requests older than route_ttl_days stop counting against capacity."""
        t = to_epoch(now)
        limit = t - self.config.route_ttl_days * DAY
        while self._routes:
            post_id, (rt, helpers) = next(iter(self._routes.items()))
            if rt > limit:
                break
            for hid in helpers:
                h = self.helpers.get(hid)
                if h and h.open > 0:
                    h.open -= 1
            del self._routes[post_id]

    def inbox(self, helper_id: str) -> list[str]:
        return [pid for pid, (_, hs) in self._routes.items() if helper_id in hs]

    # ------------------------------------------------------------------ ranking
    def _excluded(self, author: str) -> set[str]:
        ex = {author}
        ex.update(self.blocks.get(author, ()))
        ex.update(self._blocked_by.get(author, ()))
        return ex

    def rank(self, post: dict, topics: list[str] | None = None, k: int = 10,
             now: Any = None) -> list[Candidate]:
        """Up to k helpers for post, best first.  Never the author, never a user who blocked the
        author or whom the author blocked, never a helper at capacity.

        Candidates: helpers sharing the post's rarer terms (inverted index, bounded by
        max_candidates), plus the top helpers by recent answers, the site's last answerers and
        the most recently active users.  Each is scored by ``_score``."""
        c = self.config
        author = str(post.get("author_id", ""))
        t = to_epoch(now if now is not None else post.get("created_at"))
        if topics is None:
            topics = post.get("topics")
        q = post_terms(post.get("text", ""), post.get("tags"), topics, c)
        if c.author_term_weight > 0 and author:
            q["@" + author] = c.author_term_weight
        qterms = self._query_terms(q)
        text = self._bm25(qterms, t)
        cands = dict.fromkeys(text)
        cands.update(dict.fromkeys(self._hot))
        cands.update(dict.fromkeys(self._last_counts))
        if c.recent_size:
            for i, uid in enumerate(reversed(self._recent_users)):
                if i >= c.recent_size:
                    break
                cands[uid] = None
        excluded = self._excluded(author)
        helpers = self.helpers
        capacity = c.capacity
        min_answers = 1 if c.answerers_only else 0
        # _score, inlined with the constants hoisted (this loop is most of rank()'s time)
        log1p, exp = math.log1p, math.exp
        w_text, w_recent, w_recent_short = c.w_text, c.w_recent, c.w_recent_short
        w_answers, w_last, w_active, w_active_short = (c.w_answers, c.w_last_answers,
                                                       c.w_active, c.w_active_short)
        w_accepted, w_votes, w_follow, w_load = c.w_accepted, c.w_votes, c.w_follow, c.w_load
        tau_r, tau_rs = self._tau_recent, self._tau_recent_short
        tau_a, tau_as = self._tau_active, self._tau_active_short
        last_counts = self._last_counts
        follows = self.follows
        author_follows = follows.get(author, ()) if w_follow else ()
        active_horizon = 60 * DAY
        scored = []
        for hid in cands:
            if hid in excluded:
                continue
            h = helpers.get(hid)
            if h is None or h.answers < min_answers:
                continue
            if capacity is not None and h.open >= capacity:
                continue
            bm = text.get(hid)
            s = w_text * log1p(bm) if bm else 0.0
            if h.recent > 0.0:
                age = t - h.recent_ts
                if age < 0.0:
                    age = 0.0
                s += (w_recent * log1p(h.recent * exp(-age / tau_r))
                      + w_recent_short * log1p(h.recent_short * exp(-age / tau_rs)))
            s += w_answers * log1p(h.answers)
            last = last_counts.get(hid)
            if last:
                s += w_last * log1p(last)
            idle = t - h.last_active
            if idle < active_horizon:
                if idle < 0.0:
                    idle = 0.0
                s += w_active * exp(-idle / tau_a) + w_active_short * exp(-idle / tau_as)
            if h.accepted > 0:
                s += w_accepted * log1p(h.accepted)
            if h.votes > 0:
                s += w_votes * log1p(h.votes)
            if w_follow and (hid in author_follows or author in follows.get(hid, ())):
                s += w_follow
            if w_load and h.open:
                s -= w_load * h.open
            scored.append((-s, hid))
        best = [(-ns, hid) for ns, hid in heapq.nsmallest(k, scored)]
        return [Candidate(hid, round(sc, 6), self._reasons(hid, author, qterms, t))
                for sc, hid in best]

    def _query_terms(self, q: dict[str, float]) -> list[tuple[float, str, Postings]]:
        """(query weight x IDF, term, postings) of the query's known terms, rarest first."""
        n = self._n_profiles
        postings = self.postings
        df_extra = self._df_extra
        log = math.log
        c = self.config
        max_df = max(c.common_df_min, c.common_df_fraction * n)
        terms = []
        for term, qw in q.items():
            plist = postings.get(term)
            if plist:
                df = len(plist)
                if df_extra:  # some term was trimmed: only then can df exceed the postings
                    df = self._df(term, plist)
                    if df > max_df:
                        continue
                terms.append((qw * log(1.0 + (n - df + 0.5) / (df + 0.5)), term, plist))
        terms.sort(key=lambda x: (-x[0], x[1]))      # rarest (most telling) terms first
        return terms

    def _bm25(self, terms: list[tuple[float, str, Postings]],
              t: float) -> dict[str, float]:
        """BM25 of each helper's decayed profile against the query terms (``_query_terms``).
        Rare terms first; terms with long postings, or once max_candidates helpers are found,
        only add to the helpers already found (so a query costs O(max_candidates x terms), not
        O(helpers))."""
        c = self.config
        n = self._n_profiles
        if n == 0 or not terms:
            return {}
        decay = math.exp(-(t - (self._t0 or t)) / self._tau_profile)
        avgdl = max(self._total_len / n, 1e-12)
        scores: dict[str, float] = {}
        norm: dict[str, float] = {}                   # helper -> BM25 length norm, once each
        helpers = self.helpers
        k1, b = c.k1, c.b
        # BM25 term: tf / (tf + k1 * norm) with tf = stored * decay, i.e.
        # stored / (stored + (k1 / decay) * norm): old profiles saturate less, score lower.
        kk = k1 / max(decay, 1e-300)
        c0 = kk * (1.0 - b)
        c1 = kk * b / avgdl
        scan, max_c = c.max_postings_scan, c.max_candidates
        for wq, term, plist in terms:
            num = wq * (k1 + 1.0)
            ws = plist.w
            if len(plist) <= scan and len(scores) < max_c:
                for hid, i in plist.slot.items():
                    w = ws[i]
                    d = norm.get(hid)
                    if d is None:
                        d = norm[hid] = c0 + c1 * helpers[hid].doclen
                    scores[hid] = scores.get(hid, 0.0) + num * w / (w + d)
            else:                                     # only the helpers already found
                slot = plist.slot
                for hid in slot.keys() & scores.keys():
                    w = ws[slot[hid]]
                    scores[hid] += num * w / (w + norm[hid])
        return scores

    def _score(self, hid: str, h: HelperState, author: str, bm25: float, t: float) -> float:
        c = self.config
        s = c.w_text * math.log1p(bm25) if bm25 > 0.0 else 0.0
        if h.recent > 0.0:
            age = t - h.recent_ts
            if age < 0.0:
                age = 0.0
            s += c.w_recent * math.log1p(h.recent * math.exp(-age / self._tau_recent))
            s += c.w_recent_short * math.log1p(
                h.recent_short * math.exp(-age / self._tau_recent_short))
        s += c.w_answers * math.log1p(h.answers)
        last = self._last_counts.get(hid)
        if last:
            s += c.w_last_answers * math.log1p(last)
        idle = t - h.last_active
        if idle < 0.0:
            idle = 0.0
        if idle < 60 * DAY:
            s += c.w_active * math.exp(-idle / self._tau_active)
            s += c.w_active_short * math.exp(-idle / self._tau_active_short)
        if h.accepted > 0:
            s += c.w_accepted * math.log1p(h.accepted)
        if h.votes > 0:
            s += c.w_votes * math.log1p(h.votes)
        if c.w_follow and (author in self.follows.get(hid, ()) or
                           hid in self.follows.get(author, ())):
            s += c.w_follow
        if c.w_load and h.open:
            s -= c.w_load * h.open
        return s
    def _reasons(self, hid: str, author: str, qterms: list[tuple[float, str, Postings]],
                 t: float) -> list[str]:
        """Human-readable reasons, computed for the returned candidates only."""
        h = self.helpers[hid]
        matched = [(w, term) for w, term, plist in qterms if hid in plist]   # rarest first
        out: list[str] = []
        tags = [term[1:] for _, term in matched if term.startswith("#")][:3]
        words = [term for _, term in matched if not term.startswith(("#", "@"))][:3]
        if tags:
            out.append("answered questions tagged " + ", ".join(tags))
        if words:
            out.append("answered questions mentioning " + ", ".join(words))
        if any(term.startswith("@") for _, term in matched):
            out.append("has helped this author before")
        if h.answers:
            out.append(f"{h.answers} answer{'s' if h.answers != 1 else ''} so far"
                       + (f", {h.accepted} accepted" if h.accepted > 0 else ""))
        last = self._last_counts.get(hid)
        if last:
            out.append(f"wrote {last} of the site's last {len(self._last_answers)} answers")
        idle = t - h.last_active
        if idle < 2 * DAY:
            hours = max(0, int(idle // 3600))
            out.append("active in the last hour" if hours < 1 else f"active {hours} h ago")
        elif idle < 60 * DAY:
            out.append(f"active {int(idle // DAY)} days ago")
        if author in self.follows.get(hid, ()):
            out.append("follows the author")
        elif hid in self.follows.get(author, ()):
            out.append("followed by the author")
        if h.open:
            out.append(f"{h.open} open request{'s' if h.open != 1 else ''} in inbox")
        if not out:
            out.append("active helper")
        return out
