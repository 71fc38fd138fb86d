"""What ranking is made of: its knobs (``MatchConfig``, the hand-set feature weights that the
index's learner starts from and is pulled back to), the candidate and helper records, the
tokeniser, and the reasons shown with a candidate. services/match/ranking.py holds the index."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from goalpost_match_native import ExpertiseCore

from services.core.contracts import parse_ts

DAY = 86400.0


def to_epoch(value: Any) -> float:
    """RFC 3339 string, datetime or number -> seconds since the epoch (UTC)."""
    if value is None:
        return datetime.now(timezone.utc).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        dt = value
    else:
        return parse_ts(str(value).strip()).timestamp()
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
    w_available: float = 0.25        # times log(2 (answered asks + 1) / (asks + 2)): 0 with no asks
    w_text_rel: float = 0.0          # times log(1 + bm25) / the best of the post's candidates
    # --- learning the weights above from who answered (each community weighs them its own way) ---
    # At a root post the index keeps its best candidates' features; each answer to it is a
    # softmax step towards the answerer, pulled back to the hand-set weights (0: no learning).
    # Off by default: on the three files the hand weights were tuned on it moved MRR@10 by
    # noise only and piled beer's slots onto fewer helpers (services/match/README.md).
    learn_rate: float = 0.0
    learn_prior: float = 0.03        # pull towards the hand-set weights, per step
    learn_candidates: int = 48       # the best this many (and a third more by topic) are kept per root
    max_learn_roots: int = 10_000    # roots whose candidates are kept (oldest dropped)
    topical_lead: int = 10           # the best topical candidate among the first this many ranks first
    routed_help_weight: float = 1.0  # a routed helper's accepted/upvoted answer teaches its post's terms again
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
    # reaction: ~75 MiB together. Twice and three times these (100k / 300k / 200k, ~190 MiB) take
    # the match service past its 300 MiB budget in the warmed-up soak (docs/benchmarks.md).
    max_postings_per_term: int = 100   # a term keeps its heaviest (most recent) helpers only
    max_terms: int = 300_000         # vocabulary kept; past it the rarest, least recent terms go
    max_asker_terms: int = 50_000    # "@asker" pseudo-terms kept (least recently used dropped)
    max_reactions: int = 50_000      # (actor, post) reactions remembered for unvote/unaccept
    max_cached_roots: int = 50_000   # root posts whose terms later replies can still learn from
    max_cached_posts: int = 100_000  # replies kept to attribute reactions / replies-to-replies
    # Users whose state is only a last-active time (never answered, nothing credited or routed).
    # Kept forever they would grow without end: 1.5 million one-off voters take match to 528 MiB.
    max_idle_users: int = 50_000


@dataclass(frozen=True)
class Candidate:
    helper_id: str
    score: float
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"helper_id": self.helper_id, "score": self.score, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class HelperState:
    """What the index knows of one user (a snapshot read from the core)."""

    doclen: float           # sum of the profile's posting weights
    answers: int            # replies to other people's root posts
    recent: float           # answers, decayed with recent_half_life, as of recent_ts
    recent_short: float     # the same with recent_short_half_life
    recent_ts: float
    accepted: int           # net accepted answers
    votes: int              # net upvotes + thanks - downvotes
    last_active: float
    open: int               # routed requests not answered yet
    last_answers: int       # answers among the site's last last_answers_n
    asked: int              # asks received
    answered_asks: int      # asks answered


_TOKENIZER = ExpertiseCore(asdict(MatchConfig()))


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, stop words and 1-letter tokens removed, light plural stemming."""
    return _TOKENIZER.tokenize(text)


def post_terms(text: str, tags: Iterable[str] | None, topics: Iterable[str] | None,
               config: MatchConfig) -> dict[str, float]:
    """Term weights of one post: its distinct words (weight 1) plus tags/topics as '#tag'."""
    core = _TOKENIZER if config == MatchConfig() else ExpertiseCore(asdict(config))
    return dict(core.post_terms(text or "", [str(t) for t in tags or ()], [str(t) for t in topics or ()]))
