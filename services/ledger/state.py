"""What the ledger rules remember between events (LedgerState), in plain dicts or, given a
store, in maps on disk with a bounded cache (services/ledger/store.py)."""
from __future__ import annotations

import copy
import marshal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:  # the state only calls the store it is handed: the rules never open one
    from services.ledger.store import StateStore

def checkpoint_parts(raw: bytes, schema: int, what: str) -> tuple:
    """A checkpoint blob's parts, refused when another schema wrote it."""
    parts = marshal.loads(raw)
    if parts[0] != schema:
        raise ValueError(f"{what} schema {parts[0]!r} != {schema}")
    return parts


STATE_SCHEMA = 5  # 2: vote records are lists (VOTE_*), grants are tuples; 3: votes and thanks keyed by vote_key; 4: no given_totals; 5: cap use keyed by day_key
# Fields of a vote record in LedgerState.votes
VOTE_KIND, VOTE_DAY, VOTE_CAP_COUNTED, VOTE_GRANTS = range(4)


def day_key(day: str, user: str) -> str:
    """The key of a user's value for a UTC day (the cap use): keys sort by day
    first, so the days left behind are one range (drop_below)."""
    return day + "\x1f" + user


def drop_below(mapping: Any, bound: str) -> None:
    """Forgets every key that sorts before `bound`: a store's map does it on disk too
    (SpillMap.drop_below), a plain dict (offline) here."""
    if hasattr(mapping, "drop_below"):
        mapping.drop_below(bound)
    else:
        for key in [k for k in mapping if k < bound]:
            del mapping[key]


def vote_key(post_id: str, actor_id: str) -> str:
    """One key per (post, actor): a vote or a thanks. The unit separator cannot occur in ids
    that ingest accepted (control characters are stripped)."""
    return f"{post_id}\x1f{actor_id}"


def count_in(table: dict[str, dict[str, int]], outer: str, inner: str, delta: int) -> int:
    """table[outer][inner] += delta, keeping positive counts and non-empty inner maps only;
    returns the new count. (A store map hands out its values for change in place.)"""
    counts = table.setdefault(outer, {})
    n = counts.get(inner, 0) + delta
    if n > 0:
        counts[inner] = n
    else:
        counts.pop(inner, None)
        if not counts:
            del table[outer]
    return n


class LedgerState:
    """Everything the rules remember. JSON-serialisable via to_dict/from_dict (snapshots)."""

    def __init__(self, store: StateStore | None = None) -> None:
        # The maps that grow with every post and reaction ever seen are plain dicts here, or,
        # given a store (the service), maps on disk with a bounded cache (services/ledger/store.py).
        self.store = store
        # post_id -> (author_id, reply_to or None, created_at)
        self.posts: dict[str, tuple[Any, ...]] = store.map("posts", mutable=False) if store else {}  # type: ignore[assignment]
        # root post_id -> helper_id -> earliest matched_at ("" when the match had none)
        self.routed: dict[str, dict[str, str]] = store.map("routed") if store else {}  # type: ignore[assignment]
        # root post_id -> {"reply", "author", "accepter", "reaction_id", "created_at", "bonus", "grants"}
        self.accepted: dict[str, dict[str, Any]] = store.map("accepted") if store else {}  # type: ignore[assignment]
        # vote_key(post_id, actor_id) -> [kind "up"|"down", day, cap_counted, grants] (a list,
        # not a dict: there is one per standing vote, and a dict cost three times the memory).
        # Keyed by vote, not by post: a popular post is then not one huge value to cache.
        self.votes: dict[str, list[Any]] = store.map("votes", mutable=False) if store else {}  # type: ignore[assignment]
        # root post_id -> reply_id -> standing upvotes of that reply (replies with any, only)
        self.upvoted: dict[str, dict[str, int]] = store.map("upvoted") if store else {}  # type: ignore[assignment]
        # reply_id -> the standing grant of its upvote-paid routed bonus (see _sync_upvote_bonus)
        self.upvote_bonus: dict[str, list[Any]] = store.map("upvote_bonus", mutable=False) if store else {}  # type: ignore[assignment]
        # vote_key(post_id, actor_id) of every thanks
        self.thanked: set[str] = store.set("thanked") if store else set()  # type: ignore[assignment]
        # day_key(UTC day, user) -> vote-earned points granted that day (the days of the cap only)
        self.cap_used: dict[str, int] = store.map("cap_used", mutable=False) if store else {}  # type: ignore[assignment]
        self.cap_max_day: str = ""
        # "actor\x1frecipient" -> epoch seconds of the actor's upvotes on the recipient's posts
        # within the serial-voting window (pruned on each vote)
        self.serial: dict[str, list[float]] = store.map("serial", mutable=False) if store else {}  # type: ignore[assignment]
        # giver -> receiver -> standing positive reactions (a giver's total is their sum, needed
        # only when a ring is checked: not kept apart, which cost a lookup on every reaction)
        self.pair_counts: dict[str, dict[str, int]] = store.map("pair_counts") if store else {}  # type: ignore[assignment]
        # giver -> receivers whose rewards from giver are dampened (members of a flagged ring)
        self.damped: dict[str, set[str]] = {}
        # [{"members", "flagged_at", "source_event_id", "counts": [[giver, receiver, n], ...]}]
        self.flagged_rings: list[dict[str, Any]] = []
        # user -> points, for offline replays and tests. None with a store: the service keeps
        # balances in its views (one copy per user, not two: ~100 bytes each).
        self.balances: dict[str, int] | None = {} if store is None else None
        # missing post_id -> reactions waiting for it (in arrival order)
        self.pending: dict[str, list[dict[str, Any]]] = {}
        # users erased on request: no entry is written for them any more
        self.erased: set[str] = set()  # (few: kept with the small parts of a checkpoint)
        # reaction_ids already processed (or parked)
        self.seen: set[str] = store.set("seen") if store else set()  # type: ignore[assignment]
        # outcome -> count (applied, parked, noop:self, noop:repeat, noop:duplicate, ...)
        self.counters: dict[str, int] = {}
        # not serialised: per-call notes for the service (logs/metrics), and a derived index
        self.last_outcome: str = ""
        self.last_flagged: list[dict[str, Any]] = []
        self._heavy: dict[str, set[str]] = {}
        self._heavy_min: int | None = None
        self._pending_n = 0

    # -- snapshots ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": STATE_SCHEMA,
            "posts": dict(self.posts.items()),
            "routed": dict(self.routed.items()),
            "accepted": dict(self.accepted.items()),
            "votes": dict(self.votes.items()),
            "thanked": sorted(self.thanked),
            "upvoted": dict(self.upvoted.items()),
            "upvote_bonus": dict(self.upvote_bonus.items()),
            "cap_used": dict(self.cap_used.items()),
            "cap_max_day": self.cap_max_day,
            "pair_counts": dict(self.pair_counts.items()),
            "serial": dict(self.serial.items()),
            "damped": {g: sorted(r) for g, r in self.damped.items()},
            "flagged_rings": self.flagged_rings,
            "balances": self.balances,
            "pending": self.pending,
            "seen": sorted(self.seen),
            "erased": sorted(self.erased),
            "counters": self.counters,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LedgerState":
        if d.get("schema") != STATE_SCHEMA:
            raise ValueError(f"ledger state schema {d.get('schema')!r} != {STATE_SCHEMA}")
        d = copy.deepcopy(dict(d))
        s = cls()
        s.posts = {p: tuple(v) for p, v in d["posts"].items()}
        s.routed = d["routed"]
        s.accepted = d["accepted"]
        s.votes = d["votes"]
        s.thanked = set(d["thanked"])
        s.upvoted = d.get("upvoted", {})
        s.upvote_bonus = d.get("upvote_bonus", {})
        s.cap_used = d["cap_used"]
        s.cap_max_day = d["cap_max_day"]
        s.pair_counts = d["pair_counts"]
        s.serial = d.get("serial", {})
        s.damped = {g: set(r) for g, r in d["damped"].items()}
        s.flagged_rings = d["flagged_rings"]
        s.balances = d["balances"]
        s.pending = d["pending"]
        s._pending_n = sum(len(v) for v in s.pending.values())
        s.seen = set(d["seen"])
        s.erased = set(d.get("erased", ()))
        s.counters = d["counters"]
        return s

    # -- checkpoints (with a store) -----------------------------------------------------------

    def small_parts(self) -> bytes:
        """The state that is not in the store's maps (it grows with users and days, not with
        every event), for a checkpoint. Balances are left out: the journal is their truth."""
        return marshal.dumps((STATE_SCHEMA, self.cap_max_day, self.damped,
                              self.flagged_rings, self.pending, self.counters, self._heavy, self._heavy_min,
                              self.erased))

    @classmethod
    def restore(cls, store: StateStore, small: bytes) -> "LedgerState":
        """The state of a checkpoint: the store's maps and the blob of :meth:`small_parts`."""
        parts = checkpoint_parts(small, STATE_SCHEMA, "ledger state")
        s = cls(store)
        (_, s.cap_max_day, s.damped, s.flagged_rings, s.pending,
         s.counters, s._heavy, s._heavy_min, erased) = parts
        s.erased = set(erased)
        s._pending_n = sum(len(v) for v in s.pending.values())
        return s

    def prefetch(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Tells the store the keys that a batch of events will look up first (without a store,
        nothing to do). Keys found later in the rules (a thread's root, a ring) are read singly."""
        if self.store is None:
            return
        posts, roots, reactions, votes, thanks, actors = set(), set(), set(), set(), set(), set()
        for ev in events:
            post_id, etype = ev.get("post_id"), ev.get("type")
            if not isinstance(post_id, str):
                continue
            posts.add(post_id)
            if etype == "reaction":
                rid, actor, kind = ev.get("reaction_id"), ev.get("actor_id"), ev.get("kind")
                if isinstance(rid, str) and isinstance(actor, str):
                    reactions.add(rid)
                    actors.add(actor)
                    if kind == "thanks":
                        thanks.add(vote_key(post_id, actor))
                    elif kind in ("upvote", "downvote", "unvote"):
                        votes.add(vote_key(post_id, actor))
            elif etype == "match":
                roots.add(post_id)
            elif isinstance(ev.get("reply_to"), str):
                posts.add(ev["reply_to"])
        self.posts.prefetch(posts)  # type: ignore[attr-defined]
        self.routed.prefetch(roots)  # type: ignore[attr-defined]
        self.upvoted.prefetch(roots)  # type: ignore[attr-defined]
        self.upvote_bonus.prefetch(posts)  # type: ignore[attr-defined]
        self.accepted.prefetch(roots)  # type: ignore[attr-defined]
        self.seen.prefetch(reactions)  # type: ignore[attr-defined]
        self.votes.prefetch(votes)  # type: ignore[attr-defined]
        self.thanked.prefetch(thanks)  # type: ignore[attr-defined]
        self.pair_counts.prefetch(actors)  # type: ignore[attr-defined]

    def evict(self) -> None:
        """Lets the store drop cached values beyond its capacity (between events only)."""
        if self.store is not None:
            self.store.evict()

    # -- helpers for the rules -----------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return self._pending_n

    def park(self, post_id: str, event: Mapping[str, Any]) -> None:
        """Keeps a reaction until the post `post_id` arrives."""
        self.pending.setdefault(post_id, []).append(dict(event))
        self._pending_n += 1

    def unpark(self, post_id: str) -> list[dict[str, Any]]:
        """The reactions that waited for `post_id`, in arrival order, no longer parked."""
        waiting = self.pending.pop(post_id, [])
        self._pending_n -= len(waiting)
        return waiting

    def take_pending(self, expired: Callable[[Mapping[str, Any]], bool]) -> list[dict[str, Any]]:
        """Removes and returns the parked reactions for which `expired` is true."""
        taken: list[dict[str, Any]] = []
        for post_id in list(self.pending):
            keep: list[dict[str, Any]] = []
            for ev in self.pending[post_id]:
                (taken if expired(ev) else keep).append(ev)
            if keep:
                self.pending[post_id] = keep
            else:
                del self.pending[post_id]
        self._pending_n -= len(taken)
        return taken

    def count(self, outcome: str) -> None:
        self.counters[outcome] = self.counters.get(outcome, 0) + 1

    def heavy_index(self, min_count: int) -> dict[str, set[str]]:
        """giver -> receivers of at least `min_count` standing positive reactions (kept up to
        date by the ring rules; rebuilt when the threshold changes)."""
        if self._heavy_min != min_count:
            self._heavy = {}
            for g, recv in self.pair_counts.items():
                hs = {r for r, n in recv.items() if n >= min_count}
                if hs:
                    self._heavy[g] = hs
            self._heavy_min = min_count
        return self._heavy
