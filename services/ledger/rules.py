"""The ledger rules: apply_event turns one event into journal entries, as a pure, deterministic
function of the state (no Kafka, Redis, store or other I/O). The service decodes a message, calls
apply_event, and writes the entries to ``ledger.entries.v1``; :func:`replay` rebuilds a state
from the inputs, and :func:`balances_from_entries` sums a journal (``goalpost ledger verify``).
"""
from __future__ import annotations

import bisect
import sys
from typing import Any, Iterable, Mapping

from services.core.contracts import REACTION_KINDS, Credit
from services.ledger.events import InvalidEvent, LedgerError, UnknownPost, event_day, parse_time, validate
from services.ledger.grants import CreditsOut, Entry, EventEntries, Payments, balances_from_entries, entry_id_for
from services.ledger.rings import is_damped, pair_add
from services.ledger.rule_table import RULES_PATH, RuleTable, load_rules
from services.ledger.state import VOTE_CAP_COUNTED, VOTE_DAY, VOTE_GRANTS, VOTE_KIND, LedgerState, count_in, vote_key

SERIAL_REVERSAL = "serial_vote_reversal"  # reason of the entries that reverse serial votes
ROUTED_UPVOTE = "upvote:routed_bonus"  # base reason of the routed bonus an upvote pays
ADJUSTMENT_SEEN = "adjustment:"  # prefix of adjustment ids in LedgerState.seen


# -- routing -------------------------------------------------------------------------------------


def _was_routed(st: LedgerState, rules: RuleTable, root_id: str, helper: str, reply_id: str) -> bool:
    routed = st.routed.get(root_id, {})
    if helper not in routed:
        return False
    if not rules.require_match_before_reply:
        return True
    matched_at = routed[helper]
    if not matched_at:
        return True
    reply_created = st.posts[reply_id][2]
    return parse_time(matched_at, "matched_at") <= parse_time(reply_created, "created_at")


# -- posts & matches -------------------------------------------------------------------------


def _root_of(st: LedgerState, post_id: str) -> tuple[str, bool]:
    """Follow reply_to to the thread's root. Returns (id, known); known is False when the chain
    reaches a post not seen yet (the id returned is that missing post)."""
    cur, visited = post_id, {post_id}
    while True:
        parent = st.posts[cur][1]
        if parent is None:
            return cur, True
        if parent not in st.posts:
            return parent, False
        if parent in visited:  # a cycle in bad data: treat the current post as the root
            return cur, True
        visited.add(parent)
        cur = parent


def _apply_post(st: LedgerState, ev: Mapping[str, Any], rules: RuleTable, out: Payments) -> str:
    # interned: a user's id is then one string however many posts and votes refer to it
    post_id, author = ev["post_id"], sys.intern(ev["author_id"])
    if post_id in st.posts:
        return "noop:duplicate"
    reply_to = ev.get("reply_to") or None
    created = ev["created_at"]
    st.posts[post_id] = (author, reply_to, created)  # a tuple: one per post ever seen
    points, base = (rules.post_root, "post") if reply_to is None else (rules.post_reply, "reply")
    out.grant(author, points, base, post_id, created)
    for waiting in st.unpark(post_id):
        outcome = _apply_reaction(st, waiting, rules, out, reparked=True)
        st.count("unparked:" + outcome)
    return "recorded"


def _apply_match(st: LedgerState, ev: Mapping[str, Any], rules: RuleTable, out: Payments) -> str:
    root_id = ev["post_id"]
    matched_at = ev.get("matched_at") or ""
    routed = st.routed.setdefault(root_id, {})
    asked = ev.get("asked")  # a wave of asks names whom it asked; a Match without waves, every candidate
    for hid in asked if asked is not None else [c["helper_id"] for c in ev["candidates"]]:
        prev = routed.get(hid)
        if prev is None or (matched_at and prev and
                            parse_time(matched_at, "matched_at") < parse_time(prev, "matched_at")):
            routed[hid] = matched_at
        elif prev and not matched_at:
            routed[hid] = ""
    if not routed:
        del st.routed[root_id]
    # A match that arrives after the accept still earns the bonus, with the same id and
    # created_at as if it had come first.
    acc = st.accepted.get(root_id)
    if (acc and not acc["bonus"] and acc["author"] != acc["accepter"]
            and _was_routed(st, rules, root_id, acc["author"], acc["reply"])):
        g = out.grant(acc["author"], rules.routed_helper_bonus, "accept:routed_bonus",
                      acc["reaction_id"], acc["created_at"],
                      damped=is_damped(st, acc["accepter"], acc["author"]))
        acc["bonus"] = True
        if g:
            acc["grants"].append(g)
        _sync_root_upvote_bonuses(st, rules, root_id, matched_at, out)
        return "recorded:late_bonus"
    _sync_root_upvote_bonuses(st, rules, root_id, matched_at, out)
    return "recorded"


# -- reactions -----------------------------------------------------------------------------------


def _park(st: LedgerState, rules: RuleTable, missing: str, ev: Mapping[str, Any], reparked: bool) -> str:
    """Reactions arrive on reactions.v1 while their post may still be in classify: one on a post
    not seen yet waits in the state and is applied, with its own ids and created_at, when the
    post arrives (the post's apply_event returns those entries too). With ``max_pending``
    reactions parked, UnknownPost is raised instead (the service dead-letters the message)."""
    if not reparked and st.pending_count >= rules.max_pending:
        raise UnknownPost(missing, ev)
    st.park(missing, ev)
    return "parked"


def _apply_reaction(st: LedgerState, ev: Mapping[str, Any], rules: RuleTable, out: Payments,
                    reparked: bool = False) -> str:
    rid, actor, post_id, kind = ev["reaction_id"], sys.intern(ev["actor_id"]), ev["post_id"], ev["kind"]
    created = ev["created_at"]
    post = st.posts.get(post_id)
    if post is None:
        return _park(st, rules, post_id, ev, reparked)
    author, reply_to = post[0], post[1]
    if kind == "flag":  # moderation (match withdraws flagged posts): earns and costs nothing
        return "noop:flag"

    # ---- accept / unaccept
    if kind in ("accept", "unaccept"):
        if reply_to is None:
            return "noop:not_a_reply"
        root_id, known = _root_of(st, post_id)
        if not known:
            return _park(st, rules, root_id, ev, reparked)
        if actor != st.posts[root_id][0]:
            return "noop:not_root_author"
        cur = st.accepted.get(root_id)
        if kind == "unaccept":
            if not cur or cur["reply"] != post_id:
                return "noop:repeat"
            _undo_accept(st, rules, cur, out, rid, created)
            del st.accepted[root_id]
            _sync_upvote_bonus(st, rules, post_id, rid, created, out)
            return "applied"
        if cur and cur["reply"] == post_id:
            return "noop:repeat"
        if cur:
            _undo_accept(st, rules, cur, out, rid, created)
        acc = {"reply": post_id, "author": author, "accepter": actor, "reaction_id": rid,
               "created_at": created, "bonus": False, "grants": []}
        st.accepted[root_id] = acc
        if author == actor:
            return "applied:self_accept"  # moves the accept, earns nothing
        pair_add(st, rules, "accept", actor, author, +1, rid, created)
        damped = is_damped(st, actor, author)
        grants = [
            out.grant(author, rules.accept_author, "accept", rid, created, damped=damped),
            out.grant(actor, rules.accept_accepter, "accept:accepter", rid, created, damped=damped),
        ]
        if _was_routed(st, rules, root_id, author, post_id):
            acc["bonus"] = True
            grants.append(out.grant(author, rules.routed_helper_bonus, "accept:routed_bonus", rid,
                                    created, damped=damped))
        acc["grants"] = [g for g in grants if g]
        _sync_upvote_bonus(st, rules, post_id, rid, created, out)
        if cur:
            _sync_upvote_bonus(st, rules, cur["reply"], rid, created, out)
        return "applied"

    # ---- votes and thanks: never on one's own post
    if actor == author:
        return "noop:self"
    day = event_day(created)

    if kind == "thanks":
        key = vote_key(post_id, actor)
        if key in st.thanked:
            return "noop:repeat"
        st.thanked.add(key)
        pair_add(st, rules, "thanks", actor, author, +1, rid, created)
        out.grant(author, rules.thanks, "thanks", rid, created,
                  damped=is_damped(st, actor, author), cap_day=day)
        return "applied"

    if reply_to is not None and kind in ("upvote", "downvote", "unvote"):
        root_id, known = _root_of(st, post_id)
        if not known:  # a vote on a reply waits for its thread's root, as an accept does: the
            return _park(st, rules, root_id, ev, reparked)  # routed bonus it may pay depends on it
    want = {"upvote": "up", "downvote": "down", "unvote": None}[kind]
    key = vote_key(post_id, actor)
    standing = st.votes.get(key)
    if (standing[VOTE_KIND] if standing else None) == want:
        return "noop:repeat"
    if reply_to is not None:  # the standing upvotes of a reply decide its upvote-paid routed bonus
        change = (want == "up") - bool(standing and standing[VOTE_KIND] == "up")
        if change:
            _count_upvote(st, post_id, change)
            _sync_upvote_bonus(st, rules, post_id, rid, created, out)
    if standing:
        out.reverse(standing[VOTE_GRANTS], rid, created)
        if standing[VOTE_KIND] == "up":
            out.give_back(author, standing[VOTE_DAY], standing[VOTE_CAP_COUNTED])
            pair_add(st, rules, "upvote", actor, author, -1, rid, created)
        del st.votes[key]
    if want is None:
        return "applied"
    rec: list[Any] = [want, day, 0, []]  # VOTE_KIND, VOTE_DAY, VOTE_CAP_COUNTED, VOTE_GRANTS
    if want == "up":
        pair_add(st, rules, "upvote", actor, author, +1, rid, created)
        points = rules.upvote_root if reply_to is None else rules.upvote_reply
        g = out.grant(author, points, "upvote", rid, created,
                      damped=is_damped(st, actor, author), cap_day=day)
        if g:
            rec[VOTE_GRANTS].append(g)
            rec[VOTE_CAP_COUNTED] = g[1]
        if _serial_vote(st, rules, actor, author, created):  # reversed at once: an unvote then undoes nothing
            out.reverse_as(rec[VOTE_GRANTS], SERIAL_REVERSAL, rid, created)
            out.give_back(author, day, rec[VOTE_CAP_COUNTED])
            rec[VOTE_CAP_COUNTED], rec[VOTE_GRANTS] = 0, []
            st.votes[key] = rec
            return "applied:serial_vote_reversed"
    else:
        for g in (out.grant(author, rules.downvote_author, "downvote", rid, created),
                  out.grant(actor, rules.downvote_voter, "downvote:voter", rid, created)):
            if g:
                rec[VOTE_GRANTS].append(g)
    st.votes[key] = rec  # not changed in place after this (the store relies on it)
    return "applied"


def _serial_vote(st: LedgerState, rules: RuleTable, actor: str, recipient: str, created: str) -> bool:
    """Counts this upvote by actor on recipient's posts; True when it is past rules.serial_votes
    within the window (by the votes' created_at, so a replay decides the same)."""
    key = f"{actor}\x1f{recipient}"
    t = parse_time(created, "created_at").timestamp()
    times = [x for x in st.serial.get(key, ()) if x > t - rules.serial_window_s]
    bisect.insort(times, t)
    st.serial[key] = times
    return len([x for x in times if x <= t]) > rules.serial_votes


def _apply_adjustment(st: LedgerState, ev: Mapping[str, Any], out: Payments) -> str:
    """An operator's correction: one entry, reason `adjustment`, once per adjustment_id."""
    seen_as = ADJUSTMENT_SEEN + ev["adjustment_id"]  # the reactions' seen set, in a namespace of its own
    if seen_as in st.seen:
        return "noop:duplicate"
    st.seen.add(seen_as)
    out.grant(sys.intern(ev["user_id"]), ev["delta"], "adjustment", ev["adjustment_id"], ev["created_at"])
    return "applied:adjustment"


def _count_upvote(st: LedgerState, reply_id: str, change: int) -> None:
    root_id, known = _root_of(st, reply_id)
    if known:
        count_in(st.upvoted, root_id, reply_id, change)


def _sync_upvote_bonus(st: LedgerState, rules: RuleTable, reply_id: str, source: str, created: str,
                       out: Payments) -> None:
    """The routed bonus an upvote pays stands exactly while the reply's author was asked on its
    root, the reply has a standing upvote, and no accept paid the bonus for it; it is granted or
    reversed when that changes. A state, not a history: whichever of the match, the votes and
    the accept arrives first, the user ends with the same points."""
    post = st.posts.get(reply_id)
    if post is None or post[1] is None:
        return
    root_id, known = _root_of(st, reply_id)
    if not known:
        return
    author = post[0]
    acc = st.accepted.get(root_id)
    paid_by_accept = bool(acc and acc["reply"] == reply_id and acc["bonus"])
    should = (st.upvoted.get(root_id, {}).get(reply_id, 0) > 0 and not paid_by_accept
              and _was_routed(st, rules, root_id, author, reply_id))
    standing = st.upvote_bonus.get(reply_id)
    if should and standing is None:
        g = out.grant(author, rules.routed_helper_bonus, ROUTED_UPVOTE, source, created)
        st.upvote_bonus[reply_id] = list(g) if g else []
    elif standing is not None and not should:
        if standing:
            out.reverse([tuple(standing)], source, created)
        del st.upvote_bonus[reply_id]


def _sync_root_upvote_bonuses(st: LedgerState, rules: RuleTable, root_id: str, matched_at: str, out: Payments) -> None:
    for reply_id in list(st.upvoted.get(root_id, {})):
        _sync_upvote_bonus(st, rules, reply_id, f"match:{root_id}:{reply_id}",
                           matched_at or st.posts[reply_id][2], out)


def _undo_accept(st: LedgerState, rules: RuleTable, acc: Mapping[str, Any], out: Payments, rid: str,
                 created: str) -> None:
    out.reverse(acc["grants"], rid, created)
    if acc["author"] != acc["accepter"]:
        pair_add(st, rules, "accept", acc["accepter"], acc["author"], -1, rid, created)


# ---------------------------------------------------------------------------------- entry points


def apply_event(state: LedgerState, event: Mapping[str, Any], rules: RuleTable) -> list[Entry]:
    """Apply one event (services/ledger/events.py); return the entries to write (maybe none).

    Mutates `state` (balances included). Raises InvalidEvent (malformed, state untouched) or
    UnknownPost (post not seen and the parking space full, state untouched). After the call,
    ``state.last_outcome`` says what happened and ``state.last_flagged`` lists rings flagged by it.

    The rules (values in rules.toml; each has a test in tests/unit/test_ledger_rules.py):

    * post: records author and reply_to; earns ``post_root``/``post_reply`` (default 0).
    * accept (on a reply, by the author of the thread's root post; anyone else: no-op):
      ``accept_author`` to the reply's author, ``accept_accepter`` to the accepter, and
      ``routed_helper_bonus`` to the reply's author when a match for the root post asked them.
      An answer by an asked helper with a standing upvote and no such accept earns the same bonus
      (``upvote:routed_bonus``), for as long as that holds, whatever order the match, the votes
      and the accept arrive in. One accepted reply per root post: accepting another reply first
      compensates the old accept. Accepting one's own reply moves the accept but grants nothing.
    * unaccept (of the accepted reply, by the root's author): compensates everything the accept granted.
    * upvote / downvote / unvote: one standing vote per (actor, post); a vote on a reply whose
      thread root is not seen yet waits for it (parked, as an accept). upvote gives ``upvote_reply``
      or ``upvote_root``; downvote ``downvote_author`` to the author and ``downvote_voter`` to the
      voter; switching compensates the old vote first; unvote compensates.
    * thanks: ``thanks`` to the post's author, once per (actor, post).
    * Self-dealing: votes and thanks on one's own post are no-ops; repeating a reaction (same vote,
      same accept, second thanks, unvote without a vote, unaccept of a reply not accepted) is a
      no-op; a reaction_id already processed is a no-op (exactly once even if ingest duplicated it).
    * Serial voting: an actor's upvotes on one recipient's posts past ``serial_votes`` within
      ``serial_window_s`` are granted and reversed at once (reason ``serial_vote_reversal``).
    * Daily cap: upvote + thanks points granted to a user per UTC day (of the reaction's created_at)
      are capped at ``daily_vote_points``; accepts exempt. A reward that hits the cap is cut down
      (reason suffix ``:capped``). A compensation reverses exactly what was granted and gives the
      headroom back to the original day.
    * Rings: see services/ledger/rings.py.
    * Reactions on posts not seen yet are parked (see _park).

    An entry's ``created_at`` is the causing event's (a late routed bonus uses the accept's).
    """
    out = EventEntries(state, rules)
    _apply(state, event, rules, out)
    return out.entries


def resolve_event(state: LedgerState, event: Mapping[str, Any], rules: RuleTable) -> list[Credit]:
    """The ledger's first stage (keyed by post): the same rules as apply_event, but the points
    go out as credits for the users they pay (services/ledger/grants.py CreditsOut); the daily
    cap, what a reversal takes back, and the balances are the second stage's
    (services/ledger/settle.py), which owns the user. apply_event's entries are exactly what
    settling these credits in order writes."""
    out = CreditsOut(state, rules)
    _apply(state, event, rules, out)
    return out.entries


def _apply(state: LedgerState, event: Mapping[str, Any], rules: RuleTable, out: Payments) -> None:
    etype = validate(event)
    state.last_flagged = []
    if etype == "post":
        outcome = _apply_post(state, event, rules, out)
    elif etype == "adjustment":
        outcome = _apply_adjustment(state, event, out)
    elif etype == "erasure":
        state.erased.add(event["user_id"])
        if state.balances is not None:
            state.balances.pop(event["user_id"], None)
        out.erase(event["user_id"], event.get("requested_at") or "")
        outcome = "applied:erasure"
    elif etype == "match":
        outcome = _apply_match(state, event, rules, out)
    else:
        rid = event["reaction_id"]
        if rid in state.seen:
            outcome = "noop:duplicate"
        else:
            outcome = _apply_reaction(state, event, rules, out)
            state.seen.add(rid)
    state.last_outcome = outcome
    state.count(outcome)


def expire_pending(state: LedgerState, older_than: str) -> list[dict[str, Any]]:
    """Remove and return parked reactions created before `older_than` (RFC 3339), oldest first,
    for the service to send to dlq.v1 (their post never arrived). They are forgotten as seen, so
    a re-drive from the DLQ is processed normally."""
    cutoff = parse_time(older_than, "older_than")
    expired = state.take_pending(lambda ev: parse_time(ev["created_at"], "created_at") < cutoff)
    for ev in expired:
        state.seen.discard(ev["reaction_id"])
    if expired:
        state.counters["expired"] = state.counters.get("expired", 0) + len(expired)
    expired.sort(key=lambda ev: (parse_time(ev["created_at"], "created_at"), ev["reaction_id"]))
    return expired


def replay(events: Iterable[Mapping[str, Any]], rules: RuleTable,
           state: LedgerState | None = None) -> tuple[LedgerState, list[Entry]]:
    """Rebuild: apply events in order from `state` (default: empty). Returns (state, entries)."""
    st = state if state is not None else LedgerState()
    entries: list[Entry] = []
    for ev in events:
        entries.extend(apply_event(st, ev, rules))
    return st, entries


__all__ = [
    "Entry", "RuleTable", "LedgerState", "LedgerError", "InvalidEvent", "UnknownPost",
    "apply_event", "resolve_event", "balances_from_entries", "entry_id_for", "expire_pending", "load_rules", "replay",
    "vote_key", "REACTION_KINDS", "RULES_PATH",
]
