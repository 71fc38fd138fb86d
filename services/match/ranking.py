"""Helper expertise learned from the event stream, and helper ranking.

No Kafka or Redis here. The service feeds events in (``observe_post`` / ``observe_reaction`` /
``observe_relation``), asks ``rank_batch`` (or ``rank``) for the helpers of new posts, and
records what it routed (``route`` / ``close``) so the capacity cap can be enforced.
``goalpost eval match`` (services/match/evaluate.py) replays files through this very class.

The work per term and per candidate (tokenising, the postings of every helper profile, the
helpers' counters, BM25 and scoring of a batch) runs in a compiled core
(``services/match/native``, Rust): docs/design.md says why and what it measured. This module
keeps what is keyed by post (root and reply caches, reactions, relations, routes) and turns
the core's results into candidates with reasons; the knobs, records, tokeniser and reasons are
in services/match/features.py. With ``learn_rate`` > 0 the core also learns the feature weights
online from the events (a root's candidates kept as it arrives, each answer a step towards its
answerer), so the same events give every worker the same weights. Every structure is bounded, so memory stays
flat on a long stream; ties are broken by helper id, so two workers that saw the same events
rank the same way.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import asdict
from typing import Any, Iterable, Iterator, Mapping, Optional

from goalpost_match_native import ExpertiseCore

from services.match.features import DAY, Candidate, HelperState, MatchConfig, post_terms, to_epoch, tokenize

__all__ = [
    "Candidate",
    "HelperState",
    "MatchConfig",
    "ExpertiseIndex",
    "tokenize",
    "post_terms",
    "to_epoch",
]

Ended = tuple[str, tuple[str, ...]]  # a request that ended: (post id, the helpers it was routed to)


# relation kind -> (the actor's edge map, its mirror by target, add or remove)
_RELATION_EDGES = {"follow": ("follows", "_followers", True), "unfollow": ("follows", "_followers", False),
                   "block": ("blocks", "_blocked_by", True), "unblock": ("blocks", "_blocked_by", False)}


class _Helpers(Mapping[str, HelperState]):
    """Read-only view of the core's users, by id."""

    def __init__(self, core: ExpertiseCore) -> None:
        self._core = core

    def __getitem__(self, user_id: str) -> HelperState:
        stats = self._core.stats(user_id)
        if stats is None:
            raise KeyError(user_id)
        return HelperState(*stats)

    def __contains__(self, user_id: object) -> bool:
        return isinstance(user_id, str) and self._core.has_user(user_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._core.user_ids())

    def __len__(self) -> int:
        return self._core.n_users()


def _strs(values: Iterable[Any] | None) -> list[str]:
    return [str(v) for v in values or ()]


class ExpertiseIndex:
    """The expertise index: a compiled core for profiles and scoring, and the bookkeeping by
    post around it (see the module doc)."""

    def __init__(self, config: MatchConfig | None = None):
        self.config = config or MatchConfig()
        self.core = ExpertiseCore(asdict(self.config))
        self.helpers: Mapping[str, HelperState] = _Helpers(self.core)
        self._askers: OrderedDict[str, None] = OrderedDict()  # "@asker" terms, LRU order
        # root post -> (author, its terms packed by the core, the cached copy of the id)
        self._roots: OrderedDict[str, tuple[str, bytes, str]] = OrderedDict()
        self._replies: OrderedDict[str, tuple[str, Optional[str]]] = OrderedDict()  # reply -> (author, root)
        # (actor, post[, kind]) -> vote / accept / thanks; oldest forgotten past max_reactions
        self._reactions: OrderedDict[tuple, str] = OrderedDict()
        self.follows: dict[str, set[str]] = {}      # follower -> followees
        self._followers: dict[str, set[str]] = {}   # followee -> followers
        self.blocks: dict[str, set[str]] = {}       # blocker -> blocked
        self._blocked_by: dict[str, set[str]] = {}  # blocked -> blockers
        # post -> (routed at, its helpers still counting, its author). A tuple, not a set: a set
        # of ten ids takes ~730 bytes, the tuple 136, and a route changes once or twice in its life.
        self._routes: OrderedDict[str, tuple[float, tuple[str, ...], Optional[str]]] = OrderedDict()
        # reply -> its root, for answers by a helper who was asked: their first accept, upvote
        # or thanks teaches the root's terms again (routed help raises rank on its topics)
        self._routed_answers: OrderedDict[str, str] = OrderedDict()
        self.erased: set[str] = set()  # users forgotten on request: every later event of theirs is ignored

    # ------------------------------------------------------------------ caches
    @staticmethod
    def _cache(cache: OrderedDict, key: str, value: Any, limit: int) -> None:
        cache[key] = value
        if len(cache) > limit:
            cache.popitem(last=False)

    def _remember(self, key: tuple, value: str) -> None:
        self._reactions[key] = value
        if len(self._reactions) > self.config.max_reactions:
            self._reactions.popitem(last=False)

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
                self.core.drop_term(old)
        return term

    # ------------------------------------------------------------------ events
    def observe_post(self, post: dict, topics: list[str] | None = None) -> Optional[Ended]:
        """Learn from any post.  A reply to someone else's root post makes its author an
        answerer of that post's terms/topics (plus, with less weight, their own words), and
        ends that request: returned as (root id, the helpers it was still routed to)."""
        c = self.config
        core = self.core
        author = sys.intern(str(post["author_id"]))
        t = to_epoch(post.get("created_at"))
        core.touch(author, t)
        post_id = str(post.get("post_id") or "")
        reply_to = post.get("reply_to")
        if not reply_to:
            if topics is None:
                topics = post.get("topics")
            terms = core.root_terms(post.get("text") or "", _strs(post.get("tags")), _strs(topics))
            if post_id:   # kept compactly: one bytes object of terms (weights follow from '#')
                self._cache(self._roots, post_id, (author, terms, post_id), c.max_cached_roots)
                if c.learn_rate > 0:  # its candidates as ranking sees them now, for the answers to come
                    core.snapshot(post_id, author, post.get("text") or "", _strs(post.get("tags")), _strs(topics), t,
                                  self._excluded(author), self._near(author))
            if c.ask_weight > 0 and terms:
                core.add_root_terms(author, terms, c.ask_weight, t)
            return None
        if post_id and post_id in self._replies:
            return None  # seen already (classify's at-least-once output, a reclassify): one answer, learnt once
        reply_to = str(reply_to)
        root_id: Optional[str] = reply_to
        if reply_to not in self._roots and reply_to in self._replies:
            root_id = self._replies[reply_to][1]          # reply to a reply: find the root
        root = self._roots.get(root_id) if root_id else None
        if root is not None:
            root_id = root[2]                             # the cache's copy of the id string
        if post_id:
            self._cache(self._replies, post_id, (author, root_id), c.max_cached_posts)
        asker = root[0] if root is not None else self._routes.get(root_id or "", (0.0, (), None))[2]
        if asker == author:
            return None                                   # the asker talking in their own thread
        if root is not None and c.learn_rate > 0:
            core.learn(root_id, author)  # who answered, among the candidates the root had
        asker_term = self._asker_term(root[0]) if root is not None and c.author_term_weight > 0 else None
        core.answer(author, root[1] if root is not None else None, asker_term,
                    post.get("text") or "" if c.own_text_weight > 0 else "", t)
        routed = self._routes.get(root_id or "")
        if routed is not None and author in routed[1]:  # an ask answered
            core.record_ask(author, 0, 1)
            if post_id and root_id:
                self._cache(self._routed_answers, post_id, root_id, c.max_cached_posts)
        return (self.end(root_id) or (root_id, ())) if root_id else None

    def observe_reaction(self, reaction: dict) -> Optional[Ended]:
        """accept / thanks / upvote raise the reply author's track record; unaccept and unvote
        undo the actor's earlier accept or vote on that post; downvote lowers it. An accept
        ends the request the reply answered: returned as (root id, the helpers still routed)."""
        actor = str(reaction.get("actor_id", ""))
        post_id = str(reaction.get("post_id", ""))
        kind = reaction.get("kind")
        if actor:
            self.core.touch(actor, to_epoch(reaction.get("created_at")))
        if kind == "flag":  # moderation, not merit: the service withdraws the post
            return None
        reply = self._replies.get(post_id)
        target = reply[0] if reply else None
        if reply is None or target == actor:
            return None
        accepted = votes = 0
        key = (actor, post_id)
        if kind == "accept":
            if (actor, post_id, "accept") not in self._reactions:
                self._remember((actor, post_id, "accept"), "accept")
                accepted = 1
        elif kind == "unaccept":
            if self._reactions.pop((actor, post_id, "accept"), None):
                accepted = -1
        elif kind in ("upvote", "downvote"):
            prev = self._reactions.get(key, "")
            if prev != kind:
                votes = _VOTE[kind] - _VOTE.get(prev, 0)
                self._remember(key, kind)
        elif kind == "unvote":
            votes = -_VOTE.get(self._reactions.pop(key, ""), 0)
        elif kind == "thanks":
            if (actor, post_id, "thanks") not in self._reactions:
                self._remember((actor, post_id, "thanks"), "thanks")
                votes = 1
        self.core.credit(target, accepted, votes)
        if (accepted > 0 or votes > 0) and post_id in self._routed_answers:
            root = self._roots.get(self._routed_answers.pop(post_id))
            w = self.config.routed_help_weight
            if root is not None and w > 0:
                self.core.add_root_terms(target, root[1], w, to_epoch(reaction.get("created_at")))
        return (self.end(reply[1]) or (reply[1], ())) if kind == "accept" and reply[1] else None

    def observe_relation(self, relation: dict) -> None:
        """follow / unfollow / block / unblock."""
        a = str(relation.get("actor_id", ""))
        b = str(relation.get("target_id", ""))
        kind = str(relation.get("kind"))
        if not a or not b or a == b or kind not in _RELATION_EDGES:
            return
        outgoing, incoming, add = _RELATION_EDGES[kind]
        out, back = getattr(self, outgoing), getattr(self, incoming)  # a's edges, and their mirror at b
        if add:
            out.setdefault(a, set()).add(b)
            back.setdefault(b, set()).add(a)
        else:
            out.get(a, set()).discard(b)
            back.get(b, set()).discard(a)

    def observe_helper_action(self, action: dict) -> Optional[Ended]:
        """decline / done end the ask for that helper (returned, for their inbox); snooze holds
        every ask to them until `until`."""
        helper, post_id = str(action.get("helper_id", "")), str(action.get("post_id", ""))
        kind = action.get("action")
        if kind in ("decline", "done"):
            entry = self._routes.get(post_id)
            if entry and helper in entry[1]:
                self.close(post_id, helper)
                return post_id, (helper,)
        elif kind == "snooze" and action.get("until"):
            self.core.snooze(helper, to_epoch(action["until"]))
            self.core.record_ask(helper, 1, 0)  # availability: a snooze counts as an ask not answered
        return None

    def erase(self, user: str) -> None:
        """Forgets a user (an erasure): their profile and counters, their relations both ways,
        their "@asker" term, their routes, cached posts and reactions. Events naming them as
        author, actor, helper or target are ignored from now on (a replay does not bring them back)."""
        self.erased.add(user)
        self.core.erase_user(user)
        for table, mirror in ((self.follows, self._followers), (self._followers, self.follows),
                              (self.blocks, self._blocked_by), (self._blocked_by, self.blocks)):
            for other in table.pop(user, set()):
                mirror.get(other, set()).discard(user)
        term = "@" + user
        if term in self._askers:
            del self._askers[term]
            self.core.drop_term(term)
        for post_id, (routed_at, helpers, author) in list(self._routes.items()):
            if author == user:
                self.end(post_id)
            elif user in helpers:
                self._routes[post_id] = (routed_at, tuple(h for h in helpers if h != user), author)
        for cache in (self._roots, self._replies):
            for post_id in [p for p, v in cache.items() if v[0] == user]:
                del cache[post_id]
        for key in [k for k in self._reactions if k[0] == user]:
            del self._reactions[key]

    def involves_erased(self, *users: Any) -> bool:
        return bool(self.erased) and any(u in self.erased for u in users)

    # ------------------------------------------------------------------ inbox accounting
    def route(self, post_id: str, helper_ids: Iterable[str], now: Any = None, author: Optional[str] = None) -> None:
        """Record that post_id (by author) was routed to helper_ids (they count against capacity);
        erased users are left out."""
        t = to_epoch(now)
        self.expire_routes(t)
        if author in self.erased:
            return
        helper_ids = [h for h in helper_ids if h not in self.erased]
        if not helper_ids:  # nothing to count: an empty entry would stay until the TTL (a leak)
            return
        routed_at, helpers, asker = self._routes.get(post_id, (t, (), author))
        added = []
        for hid in dict.fromkeys(helper_ids):
            if hid not in helpers:
                self.core.add_open(hid, 1)
                self.core.record_ask(hid, 1, 0)
                added.append(sys.intern(hid))  # one shared copy: the match records' own strings would be ~35 MiB
        self._routes[post_id] = (routed_at, helpers + tuple(added), asker)

    def end(self, post_id: str) -> Optional[Ended]:
        """post_id was answered: it stops counting against every routed helper's capacity.
        Returns (post_id, the helpers it was routed to), or None when it was not routed."""
        entry = self._routes.pop(post_id, None)
        if entry is None:
            return None
        for hid in entry[1]:
            self.core.add_open(hid, -1)
        return post_id, entry[1]

    def close(self, post_id: str, helper_id: str) -> None:
        """The helper answered (or dismissed) post_id: it no longer counts against capacity."""
        entry = self._routes.get(post_id)
        if entry and helper_id in entry[1]:
            entry = self._routes[post_id] = (entry[0], tuple(h for h in entry[1] if h != helper_id), entry[2])
            self.core.add_open(helper_id, -1)
            if not entry[1]:
                del self._routes[post_id]

    def expire_routes(self, now: Any = None) -> None:
        """Routed requests older than route_ttl_days stop counting against capacity."""
        t = to_epoch(now)
        limit = t - self.config.route_ttl_days * DAY
        while self._routes:
            post_id, (routed_at, _, _) = next(iter(self._routes.items()))
            if routed_at > limit:
                break
            self.end(post_id)

    def inbox(self, helper_id: str) -> list[str]:
        return [pid for pid, (_, hs, _) in self._routes.items() if helper_id in hs]

    # ------------------------------------------------------------------ ranking
    def _excluded(self, author: str) -> list[str]:
        return [*self.blocks.get(author, ()), *self._blocked_by.get(author, ())]

    def _near(self, author: str) -> list[str]:
        if not self.config.w_follow:
            return []
        return [*self.follows.get(author, ()), *self._followers.get(author, ())]

    def rank_batch(self, posts: list[tuple[dict, Optional[list[str]]]], k: int = 10,
                   now: Any = None, exclude: Optional[list[Iterable[str]]] = None) -> list[list[Candidate]]:
        """Up to k helpers for each (post, topics), best first, in one call to the core.
        Never the author, never a user who blocked the author or whom the author blocked,
        never a helper at capacity or snoozed.

        Candidates: helpers sharing the post's rarer terms (rarest first, at most
        max_candidates found), plus the top helpers by recent answers, the site's last
        answerers and the most recently active users. Reasons are built for the top k only.
        `exclude`, one collection a post, leaves out more helpers (those asked already)."""
        queries = []
        follows, followers = self.follows, self._followers
        for i, (post, topics) in enumerate(posts):
            author = str(post.get("author_id", ""))
            t = to_epoch(now if now is not None else post.get("created_at"))
            if topics is None:
                topics = post.get("topics")
            excluded = self._excluded(author)
            if exclude is not None:
                excluded.extend(exclude[i])
            queries.append((author, post.get("text") or "", _strs(post.get("tags")), _strs(topics), t,
                            excluded, self._near(author), k, list(followers.get(author, ())),
                            list(follows.get(author, ()))))
        return [[Candidate(helper, round(score, 6), said) for helper, score, said in found]
                for found in self.core.rank_batch_reasons(queries)]

    def weights(self) -> dict[str, float]:
        """Feature -> the weight ranking uses now (the config's until answers teach it)."""
        return dict(self.core.weights())

    def rank(self, post: dict, topics: list[str] | None = None, k: int = 10,
             now: Any = None) -> list[Candidate]:
        """``rank_batch`` of one post."""
        return self.rank_batch([(post, topics)], k=k, now=now)[0]


_VOTE = {"upvote": 1, "downvote": -1}
