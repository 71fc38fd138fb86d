"""Unit tests for services/match/ranking.py and services/match/evaluate.py (pure logic)."""

import json
from dataclasses import replace

import pytest

from services.match.evaluate import evaluate
from services.match.ranking import Candidate, ExpertiseIndex, MatchConfig, tokenize

T0 = "2024-01-01T00:00:00Z"


def ts(day: float, hour: float = 0.0) -> str:
    total = int(day * 86400 + hour * 3600)
    d, rem = divmod(total, 86400)
    return f"2024-01-{1 + d:02d}T{rem // 3600:02d}:{rem % 3600 // 60:02d}:{rem % 60:02d}Z"


def post(pid, author, text, when, reply_to=None, tags=()):
    return {"post_id": pid, "author_id": author, "text": text, "created_at": when,
            "reply_to": reply_to, "tags": list(tags)}


def seed(idx: ExpertiseIndex, n_days: int = 3) -> None:
    """alice answers about sourdough, bob about marathons; carol asks."""
    for i in range(n_days):
        idx.observe_post(post(f"q{i}a", "carol", "How do I feed a sourdough starter?",
                              ts(i), tags=["baking"]))
        idx.observe_post(post(f"r{i}a", "alice", "Feed the starter flour and water daily.",
                              ts(i, 1), reply_to=f"q{i}a"))
        idx.observe_post(post(f"q{i}b", "carol", "Marathon training plan for a beginner?",
                              ts(i, 2), tags=["running"]))
        idx.observe_post(post(f"r{i}b", "bob", "Build mileage slowly over 16 weeks.",
                              ts(i, 3), reply_to=f"q{i}b"))


def ids(cands):
    return [c.helper_id for c in cands]


def test_tokenize_drops_stopwords_and_plurals():
    assert tokenize("How do I get the Starters going?") == ["starter", "going"]


def test_a_root_posts_packed_terms_are_its_distinct_words_then_tags_and_topics():
    core = ExpertiseIndex().core
    packed = core.root_terms("Hops, hops and more HOPS for stouts", ["Beer ", "stout"], ["beer"])
    assert isinstance(packed, bytes)
    assert core.unpacked_terms(packed) == ["hops", "stout", "#beer", "#stout"]
    assert core.unpacked_terms(core.root_terms("")) == []


def test_the_routed_helpers_thanks_teaches_them_the_roots_packed_terms():
    idx = ExpertiseIndex()
    idx.core.add_root_terms("helper", idx.core.root_terms("pale ale", ["beer"]), 1.0, 1.7e9)
    assert dict(idx.core.postings_of("ale"))["helper"] > 0
    assert dict(idx.core.postings_of("#beer"))["helper"] > dict(idx.core.postings_of("ale"))["helper"]  # tags weigh more


def test_expertise_routes_by_topic():
    idx = ExpertiseIndex()
    seed(idx)
    q = post("new1", "dave", "My sourdough starter smells odd", ts(3), tags=["baking"])
    assert ids(idx.rank(q))[0] == "alice"
    q2 = post("new2", "dave", "First marathon: how to train?", ts(3), tags=["running"])
    assert ids(idx.rank(q2))[0] == "bob"


def test_author_never_ranked():
    idx = ExpertiseIndex()
    seed(idx)
    q = post("new", "alice", "sourdough starter question", ts(3), tags=["baking"])
    got = ids(idx.rank(q, k=10))
    assert "alice" not in got and got  # bob is still there


def test_blocks_both_directions_and_unblock():
    idx = ExpertiseIndex()
    seed(idx)
    q = post("new", "dave", "sourdough starter", ts(3), tags=["baking"])
    idx.observe_relation({"actor_id": "alice", "target_id": "dave", "kind": "block"})
    assert "alice" not in ids(idx.rank(q))          # alice blocked the author
    idx.observe_relation({"actor_id": "alice", "target_id": "dave", "kind": "unblock"})
    assert "alice" in ids(idx.rank(q))
    idx.observe_relation({"actor_id": "dave", "target_id": "bob", "kind": "block"})
    assert "bob" not in ids(idx.rank(q))            # the author blocked bob


def test_follow_brings_closer():
    idx = ExpertiseIndex()
    seed(idx)
    q = post("new", "dave", "anything at all", ts(3))
    before = {c.helper_id: c.score for c in idx.rank(q)}
    idx.observe_relation({"actor_id": "bob", "target_id": "dave", "kind": "follow"})
    after = {c.helper_id: c.score for c in idx.rank(q)}
    assert after["bob"] > before["bob"] and after["alice"] == before["alice"]


def test_capacity_cap_and_close():
    idx = ExpertiseIndex(MatchConfig(capacity=2))
    seed(idx)
    idx.route("x1", ["alice"], now=ts(3))
    idx.route("x2", ["alice"], now=ts(3))
    q = post("new", "dave", "sourdough starter", ts(3), tags=["baking"])
    assert "alice" not in ids(idx.rank(q))          # at capacity
    idx.observe_post(post("rx", "alice", "answer", ts(3, 1), reply_to="x1"))
    assert "alice" in ids(idx.rank(q, now=ts(3, 1)))  # her reply closed x1
    idx.route("x3", ["alice"], now=ts(3, 2))
    assert "alice" not in ids(idx.rank(q, now=ts(3, 2)))
    idx.expire_routes(ts(20))                       # stale requests stop counting
    assert idx.helpers["alice"].open == 0


def test_open_routes_are_bounded_by_capacity_not_by_their_ttl():
    # Past capacity every match of a busy site comes back empty; those must leave nothing behind
    # (they were kept for route_ttl_days: the match service grew ~1.5 MiB/min in the soak).
    idx = ExpertiseIndex(MatchConfig(capacity=2))
    seed(idx)
    for i in range(1000):
        idx.route(f"q{i}", ["alice"] if i < 5 else [], now=ts(3))
    assert len(idx._routes) == 5 and idx.helpers["alice"].open == 5
    idx.observe_post(post("r0", "alice", "answer", ts(3, 1), reply_to="q0"))
    assert len(idx._routes) == 4 and idx.inbox("alice") == ["q1", "q2", "q3", "q4"]


def test_a_reply_or_an_accept_ends_the_request_for_every_routed_helper():
    idx = ExpertiseIndex(MatchConfig(capacity=5))
    idx.observe_post(post("q1", "carol", "sourdough starter?", ts(1)))
    idx.observe_post(post("q2", "carol", "marathon plan?", ts(1)))
    idx.observe_post(post("r3", "erin", "run slowly", ts(1), reply_to="q2"))  # answered before it is routed
    idx.route("q1", ["alice", "bob"], now=ts(1), author="carol")
    idx.route("q2", ["alice", "bob"], now=ts(1), author="carol")
    # the asker's own follow-up in the thread ends nothing
    assert idx.observe_post(post("c1", "carol", "more details", ts(1, 1), reply_to="q1")) is None
    assert idx.helpers["alice"].open == 2
    # a reply by someone nobody asked ends q1 for alice and bob alike
    assert idx.observe_post(post("r1", "dave", "feed it daily", ts(1, 2), reply_to="q1")) == ("q1", ("alice", "bob"))
    assert [idx.helpers[h].open for h in ("alice", "bob")] == [1, 1] and idx.inbox("alice") == ["q2"]
    # a root never routed ends with nobody to free (the caller still stops its waves)
    assert idx.observe_post(post("r2", "dave", "?", ts(1, 3), reply_to="q9")) == ("q9", ())
    # the asker's accept of erin's earlier answer ends q2
    assert idx.observe_reaction({"actor_id": "carol", "post_id": "r3", "kind": "accept", "created_at": ts(1, 4)}) == (
        "q2", ("alice", "bob"))
    assert [idx.helpers[h].open for h in ("alice", "bob")] == [0, 0] and not idx._routes


def test_a_route_counts_each_helper_once_and_close_frees_one_helper():
    idx = ExpertiseIndex(MatchConfig(capacity=5))
    idx.route("q1", ["alice", "bob", "alice"], now=ts(1))
    idx.route("q1", ["bob", "carol"], now=ts(1, 1))  # routed again: bob is not counted twice
    assert [idx.helpers[h].open for h in ("alice", "bob", "carol")] == [1, 1, 1]
    idx.close("q1", "bob")
    idx.close("q1", "bob")  # a second reply by bob changes nothing
    assert [idx.helpers[h].open for h in ("alice", "bob", "carol")] == [1, 0, 1]
    assert idx.inbox("alice") == ["q1"] and idx.inbox("bob") == []
    idx.close("q1", "alice")
    idx.close("q1", "carol")
    assert not idx._routes  # nobody left to answer: the route is gone


def test_capacity_off():
    idx = ExpertiseIndex(MatchConfig(capacity=None))
    seed(idx)
    idx.route("x1", ["alice"] * 3, now=ts(3))
    q = post("new", "dave", "sourdough starter", ts(3), tags=["baking"])
    assert "alice" in ids(idx.rank(q))


def test_time_decay_lowers_old_expertise():
    cfg = MatchConfig(w_recent=0, w_recent_short=0, w_answers=0, w_last_answers=0,
                      w_active=0, w_active_short=0, w_accepted=0, author_term_weight=0)
    idx = ExpertiseIndex(cfg)
    # old: answered about espresso two years ago; new: answered the same a day ago.
    idx.observe_post(post("q1", "carol", "espresso grind size", "2022-01-01T00:00:00Z"))
    idx.observe_post(post("r1", "old", "finer", "2022-01-01T01:00:00Z", reply_to="q1"))
    idx.observe_post(post("q2", "carol", "espresso grind size", "2023-12-30T00:00:00Z"))
    idx.observe_post(post("r2", "new", "finer", "2023-12-30T01:00:00Z", reply_to="q2"))
    q = post("q3", "dave", "espresso grind", "2024-01-01T00:00:00Z")
    got = idx.rank(q)
    assert ids(got) == ["new", "old"] and got[0].score > got[1].score
    # the same question asked two more years later: both have decayed
    later = idx.rank(q, now="2026-01-01T00:00:00Z")
    assert later[0].score < got[0].score


def test_recent_activity_decays():
    idx = ExpertiseIndex()
    seed(idx)
    q = post("new", "dave", "sourdough", ts(3), tags=["baking"])
    soon = {c.helper_id: c.score for c in idx.rank(q)}
    late = {c.helper_id: c.score for c in idx.rank(q, now="2024-06-01T00:00:00Z")}
    assert late["alice"] < soon["alice"]


def test_reasons_human_readable():
    idx = ExpertiseIndex()
    seed(idx)
    idx.observe_reaction({"actor_id": "carol", "post_id": "r0a", "kind": "accept",
                          "created_at": ts(0, 1)})
    got = idx.rank(post("new", "carol", "sourdough starter", ts(3), tags=["baking"]))
    top = got[0]
    assert isinstance(top, Candidate) and top.helper_id == "alice"
    text = " | ".join(top.reasons)
    assert "tagged baking" in text and "sourdough" in text
    assert "has helped this author before" in text and "1 accepted" in text
    assert all(isinstance(r, str) and r and not r.startswith(("#", "@")) for r in top.reasons)
    assert top.to_dict()["helper_id"] == "alice"


def test_accept_and_unaccept_reverse():
    idx = ExpertiseIndex()
    seed(idx)
    acc = {"actor_id": "carol", "post_id": "r0a", "kind": "accept", "created_at": ts(0, 1)}
    idx.observe_reaction(acc)
    idx.observe_reaction(acc)  # idempotent
    assert idx.helpers["alice"].accepted == 1
    idx.observe_reaction(dict(acc, kind="unaccept"))
    assert idx.helpers["alice"].accepted == 0
    up = {"actor_id": "dave", "post_id": "r0b", "kind": "upvote", "created_at": ts(0, 4)}
    idx.observe_reaction(up)
    assert idx.helpers["bob"].votes == 1
    idx.observe_reaction(dict(up, kind="unvote"))
    assert idx.helpers["bob"].votes == 0


def test_deterministic():
    a, b = ExpertiseIndex(), ExpertiseIndex()
    seed(a)
    seed(b)
    q = post("new", "dave", "starter marathon", ts(3))
    assert a.rank(q) == b.rank(q)


def _write(tmp_path, events):
    p = tmp_path / "replay.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(p)


def test_evaluate_metrics_on_handmade_replay(tmp_path):
    def P(pid, author, text, when, reply_to=None):
        return dict(post(pid, author, text, when, reply_to), type="post")

    events = [
        P("q1", "u1", "sourdough starter", ts(0)),        # no history: truth u2 -> miss (cold)
        P("a1", "u2", "feed it", ts(0, 1), "q1"),
        P("a1b", "u1", "thanks", ts(0, 2), "q1"),          # the author's own reply: not truth
        P("q2", "u3", "sourdough starter again", ts(1)),  # only u2 answered: rank 1, warm
        P("a2", "u2", "feed it more", ts(1, 1), "q2"),
        P("q3", "u1", "marathon", ts(2)),                  # unanswered: ranked, not scored
        P("q4", "u4", "bread", ts(3)),                     # truth u5: new user, cold, miss
        P("a4", "u5", "bake it", ts(3, 1), "q4"),
        {"type": "reaction", "reaction_id": "r1", "actor_id": "u4", "post_id": "a4",
         "kind": "accept", "created_at": ts(3, 1)},
    ]
    out = evaluate(_write(tmp_path, events))
    assert out["all"] == {"n": 3, "hit@1": 0.3333, "hit@5": 0.3333, "hit@10": 0.3333,
                          "mrr@10": 0.3333}
    assert out["warm"] == {"n": 1, "hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0, "mrr@10": 1.0}
    # slots: q1 none, q2 [u2], q3 [u2], q4 [u2] -> one user holds every slot
    assert out["top1pct_share"] == 1.0
    assert out["ranks_per_s"] > 0
    assert out["config"]["capacity"] is None


def test_evaluate_rank_two_and_share(tmp_path):
    def P(pid, author, text, when, reply_to=None):
        return dict(post(pid, author, text, when, reply_to), type="post")

    cfg = replace(MatchConfig(capacity=None), w_text=0, w_recent_short=0, w_last_answers=0,
                  w_active=0, w_active_short=0, w_answers=0, w_accepted=0, w_votes=0)
    events = [
        P("q1", "u1", "x", ts(0)), P("a1", "u2", "y", ts(0, 1), "q1"),
        P("q2", "u1", "x", ts(1)), P("a2", "u2", "y", ts(1, 1), "q2"),
        P("a2b", "u3", "y", ts(1, 2), "q2"),
        P("q3", "u1", "x", ts(2)), P("a3", "u3", "y", ts(2, 1), "q3"),
    ]
    out = evaluate(_write(tmp_path, events), config=cfg)
    # q1: miss (cold). q2: [u2] hit@1. q3: u2 (2 recent answers) before u3 (1) -> rank 2.
    assert out["all"]["n"] == 3
    assert out["all"]["mrr@10"] == pytest.approx(round((0 + 1 + 0.5) / 3, 4))
    assert out["all"]["hit@1"] == pytest.approx(0.3333)
    assert out["all"]["hit@5"] == pytest.approx(0.6667)
    assert out["warm"]["n"] == 2 and out["warm"]["mrr@10"] == 0.75
    # slots: q2 [u2], q3 [u2, u3]: 3 users -> top 1 user (u2) holds 2 of 3
    assert out["top1pct_share"] == pytest.approx(0.6667)


def test_postings_trimmed_to_heaviest_and_df_kept():
    idx = ExpertiseIndex(MatchConfig(max_postings_per_term=4))
    for i in range(12):   # h0 answers first (lightest on the global clock), h11 last
        idx.observe_post(post(f"q{i}", "carol", "kombucha", ts(i)))
        idx.observe_post(post(f"r{i}", f"h{i}", "ok", ts(i, 1), reply_to=f"q{i}"))
    plist = dict(idx.core.postings_of("kombucha"))
    assert len(plist) <= 5 and "h11" in plist and "h0" not in plist
    assert idx.core.doc_freq("kombucha") == 12   # document frequency still counts everyone
    got = ids(idx.rank(post("new", "dave", "kombucha", ts(12))))
    assert got[0] == "h11"


def test_memory_bounds_asker_terms_and_reactions():
    idx = ExpertiseIndex(MatchConfig(max_asker_terms=3, max_reactions=5))
    for i in range(10):
        idx.observe_post(post(f"q{i}", f"asker{i}", "espresso", ts(i)))
        idx.observe_post(post(f"r{i}", "alice", "grind finer", ts(i, 1), reply_to=f"q{i}"))
        idx.observe_reaction({"actor_id": f"asker{i}", "post_id": f"r{i}", "kind": "accept",
                              "created_at": ts(i, 2)})
    askers = [f"@asker{i}" for i in range(10) if idx.core.has_term(f"@asker{i}")]
    assert askers == ["@asker7", "@asker8", "@asker9"]   # least recently used dropped
    assert len(idx._reactions) == 5 and idx.helpers["alice"].accepted == 10
    # a repeat accept of a remembered reaction is still idempotent
    idx.observe_reaction({"actor_id": "asker9", "post_id": "r9", "kind": "accept",
                          "created_at": ts(10)})
    assert idx.helpers["alice"].accepted == 10


def test_users_who_never_answered_are_bounded_and_helpers_are_kept():
    cfg = MatchConfig(max_idle_users=100, recent_size=5)
    idx, unbounded = ExpertiseIndex(cfg), ExpertiseIndex(replace(cfg, max_idle_users=10**9))
    for i in (idx, unbounded):
        seed(i)
        for v in range(2000):  # one-off voters on one of alice's replies
            i.observe_reaction({"actor_id": f"voter{v}", "post_id": "r0a", "kind": "upvote",
                                "created_at": ts(3, v / 1000)})
        i.observe_post(post("q9", "dave", "sourdough starter smells of acetone?", ts(4), tags=["baking"]))
    assert len(unbounded.helpers) > 2000
    assert len(idx.helpers) <= 100 + 3  # + alice, bob (helpers) and dave (who asked last: still idle)
    assert idx.helpers["alice"].votes == 2000 and idx.helpers["bob"].answers == 3  # helpers are never dropped
    q = post("q10", "erin", "how to feed a sourdough starter", ts(4, 1), tags=["baking"])
    assert idx.rank(q, k=5) == unbounded.rank(q, k=5)  # ranking sees no difference
    # a forgotten voter who answers later is a helper like any other
    idx.observe_post(post("r10", "voter0", "Feed your sourdough starter twice a day.", ts(4, 2), reply_to="q9"))
    assert idx.helpers["voter0"].answers == 1 and "voter0" in ids(idx.rank(q, k=5))


def test_common_terms_skipped_only_at_scale():
    cfg = MatchConfig(max_postings_per_term=2, common_df_min=3, common_df_fraction=0.5)
    idx = ExpertiseIndex(cfg)
    for i in range(6):
        idx.observe_post(post(f"q{i}", "carol", "coffee beans", ts(i)))
        idx.observe_post(post(f"r{i}", f"h{i}", "ok", ts(i, 1), reply_to=f"q{i}"))
    terms = [term for _, term in idx.core.query_terms_of("carol", "coffee")]
    assert "coffee" not in terms   # in all 6 profiles: near-zero IDF, skipped
    small = ExpertiseIndex()
    seed(small)
    assert [t for _, t in small.core.query_terms_of("", "sourdough")] == ["sourdough"]


def test_bench_smoke(capsys, monkeypatch):
    from tests.bench import bench_match
    monkeypatch.setattr("sys.argv", ["bench_match", "--helpers", "300", "--posts", "1200",
                                     "--vocab", "2000", "--tags", "50", "--queries", "50"])
    bench_match.main()
    out = json.loads(capsys.readouterr().out)
    assert out["queries"] == 50 and out["helpers_with_profile"] > 250
    assert out["rank_ms_p99"] > 0 and out["rss_mib"] > 0


def test_score_without_topical_evidence_follows_the_documented_formula():
    """A post sharing no term with any profile is scored on activity alone: check each
    candidate's score against the formula in services/match/README.md, from its counters."""
    import math
    idx = ExpertiseIndex()
    seed(idx)
    idx.observe_reaction({"actor_id": "carol", "post_id": "r0a", "kind": "accept",
                          "created_at": ts(0, 1)})
    idx.observe_relation({"actor_id": "bob", "target_id": "dave", "kind": "follow"})
    c = replace(idx.config, **{("w_" + k if k != "last_answers" else "w_last_answers"): v
                               for k, v in idx.weights().items() if k != "text_rel"})  # the weights in use
    t = idx.helpers["alice"].last_active + 3600 * 2
    got = idx.rank(post("new", "dave", "zzz qqq", ts(3, 5)), now=t)
    assert {x.helper_id for x in got} == {"alice", "bob"}
    for cand in got:
        h = idx.helpers[cand.helper_id]
        age, idle = t - h.recent_ts, t - h.last_active
        day = 86400
        want = (c.w_recent * math.log1p(h.recent * 0.5 ** (age / (c.recent_half_life_days * day)))
                + c.w_recent_short * math.log1p(h.recent_short * 0.5 ** (age / (c.recent_short_half_life_days * day)))
                + c.w_answers * math.log1p(h.answers) + c.w_last_answers * math.log1p(h.last_answers)
                + c.w_active * math.exp(-idle / (c.active_tau_days * day))
                + c.w_active_short * math.exp(-idle / (c.active_short_tau_days * day))
                + c.w_accepted * math.log1p(max(h.accepted, 0)) + c.w_votes * math.log1p(max(h.votes, 0))
                + (c.w_follow if cand.helper_id == "bob" else 0.0))
        assert cand.score == pytest.approx(want, abs=1e-5)


def test_rank_batch_ranks_each_post_as_rank_does():
    idx = ExpertiseIndex()
    seed(idx)
    idx.observe_relation({"actor_id": "alice", "target_id": "erin", "kind": "block"})
    posts = [post("n1", "dave", "sourdough starter", ts(3), tags=["baking"]),
             post("n2", "erin", "sourdough starter", ts(3), tags=["baking"]),
             post("n3", "alice", "marathon plan", ts(3, 1), tags=["running"])]
    batch = idx.rank_batch([(p, None) for p in posts], k=2)
    assert batch == [idx.rank(p, k=2) for p in posts]
    assert ids(batch[0])[0] == "alice" and "alice" not in ids(batch[1]) and "alice" not in ids(batch[2])


def test_reasons_name_merits_only():
    idx = ExpertiseIndex()
    seed(idx)
    for i in range(3):
        idx.route(f"x{i}", ["alice"], ts(3))
    (best, *_) = idx.rank(post("n1", "dave", "sourdough starter", ts(3), tags=["baking"]))
    assert best.helper_id == "alice" and idx.helpers["alice"].open == 3
    assert best.reasons[0] == "answered questions tagged baking"
    assert not any("inbox" in r or "open" in r for r in best.reasons)


def test_a_term_trimmed_again_and_again_keeps_a_positive_idf():
    """A helper dropped from a term's postings and back later is counted in the document
    frequency twice; unclamped, the frequency passed the number of profiles and the IDF went
    negative, and rank() failed with a math domain error."""
    idx = ExpertiseIndex(MatchConfig(max_postings_per_term=1))
    for i in range(12):
        helper = ("alice", "bob", "dave")[i % 3]
        idx.observe_post(post(f"q{i}", "carol", "sourdough starter question", ts(i)))
        idx.observe_post(post(f"r{i}", helper, "sourdough starter answer", ts(i, 1), reply_to=f"q{i}"))
    assert idx.core.doc_freq("sourdough") > len(idx.core.postings_of("sourdough")), "the postings were trimmed"
    weights = idx.core.query_terms_of("carol", "sourdough starter question answer")
    assert weights and all(w > 0 for w, _ in weights)
    assert idx.rank(post("q99", "carol", "sourdough starter?", ts(13)), k=5)


def test_the_service_settings_default_to_the_ranking_defaults():
    from services.core.settings import Settings
    s, c = Settings("match"), MatchConfig()
    assert (s.match_helper_cap, s.match_postings_per_term, s.match_max_terms, s.match_cached_roots,
            s.match_cached_posts, s.match_cached_reactions, s.match_idle_users) == (
        c.capacity, c.max_postings_per_term, c.max_terms, c.max_cached_roots, c.max_cached_posts,
        c.max_reactions, c.max_idle_users)


def test_the_vocabulary_is_bounded_and_keeps_the_terms_in_use():
    idx = ExpertiseIndex(MatchConfig(max_terms=20))
    for i in range(60):
        idx.observe_post(post(f"q{i}", "carol", f"question about topic{i}", ts(i * 0.1)))
        idx.observe_post(post(f"r{i}", "alice", f"answer on topic{i} with word{i}", ts(i * 0.1, 1),
                              reply_to=f"q{i}"))
    assert idx.core.n_terms() <= 22 + 1  # + "@carol"
    assert idx.core.has_term("topic59") and not idx.core.has_term("topic0")
    ranked = idx.rank(post("q99", "carol", "anything about topic59?", ts(7)), k=3)
    assert ranked and ranked[0].helper_id == "alice"


def test_any_text_and_any_time_rank_without_error_and_never_the_author_or_a_blocked_user():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["alice", "bob", "carol", "dave"]), st.text(max_size=80),
                              st.floats(allow_nan=True, allow_infinity=True) | st.floats(1e9, 2e9)),
                    min_size=1, max_size=12),
           st.text(max_size=80))
    def check(events, query):
        idx = ExpertiseIndex(MatchConfig(max_postings_per_term=2, max_terms=5))
        idx.observe_relation({"actor_id": "alice", "target_id": "erin", "kind": "block"})
        for i, (author, text, t) in enumerate(events):
            idx.observe_post({"post_id": f"q{i}", "author_id": "erin", "text": text, "created_at": t})
            idx.observe_post({"post_id": f"r{i}", "author_id": author, "text": text, "created_at": t,
                              "reply_to": f"q{i}"})
        for author in ("erin", "bob"):
            got = [c.helper_id for c in idx.rank({"author_id": author, "text": query, "created_at": 1.5e9})]
            assert author not in got and (author != "erin" or "alice" not in got)
            assert len(got) == len(set(got))
        assert tokenize(query) == [t for t in tokenize(query) if len(t) > 1]

    check()


def test_a_decline_ends_the_ask_for_that_helper_and_a_snooze_holds_asks_until_its_time():
    idx = ExpertiseIndex()
    seed(idx)
    idx.route("q9", ["alice", "bob"], now=ts(3), author="carol")
    assert idx.observe_helper_action({"helper_id": "alice", "post_id": "q9", "action": "decline"}) == ("q9", ("alice",))
    assert idx.inbox("alice") == [] and idx.inbox("bob") == ["q9"] and idx.helpers["alice"].open == 0
    assert idx.observe_helper_action({"helper_id": "alice", "post_id": "q9", "action": "decline"}) is None  # once
    q = post("n1", "dave", "sourdough starter", ts(3), tags=["baking"])
    assert ids(idx.rank(q))[0] == "alice"
    idx.observe_helper_action({"helper_id": "alice", "post_id": "q9", "action": "snooze", "until": ts(5),
                               "created_at": ts(3)})
    assert "alice" not in ids(idx.rank(q))                                 # snoozed at day 3
    assert ids(idx.rank(post("n2", "dave", "sourdough starter", ts(6), tags=["baking"])))[0] == "alice"  # after


def test_helpers_who_answer_their_asks_rise_and_those_who_ignore_them_sink():
    idx = ExpertiseIndex(MatchConfig(capacity=None))
    seed(idx)
    base = {c.helper_id: c.score for c in idx.rank(post("qx", "dave", "sourdough starter and marathon", ts(3)), k=5)}
    for i in range(4):  # alice answers each ask; bob is asked as often and answers none
        idx.observe_post(post(f"ask{i}", "carol", "sourdough starter or marathon?", ts(3, i)))
        idx.route(f"ask{i}", ["alice", "bob"], now=ts(3, i), author="carol")
        idx.observe_post(post(f"ans{i}", "alice", "yes", ts(3, i + 0.5), reply_to=f"ask{i}"))
    assert (idx.helpers["alice"].asked, idx.helpers["alice"].answered_asks) == (4, 4)
    assert (idx.helpers["bob"].asked, idx.helpers["bob"].answered_asks) == (4, 0)
    found = {c.helper_id: c for c in idx.rank(post("qy", "dave", "sourdough starter and marathon", ts(3, 5)), k=5)}
    assert "answered 4 of 4 asks" in found["alice"].reasons
    assert not any("asks" in r for r in found["bob"].reasons)  # a penalty is never listed as a reason
    # bob's score fell by the availability term: log(2 * 1 / 6) * w_available (activity aside)
    assert found["bob"].score < base["bob"]


def test_a_routed_helpers_accepted_answer_teaches_its_topics_again_once():
    cfg = MatchConfig(capacity=None)
    plain, routed = ExpertiseIndex(cfg), ExpertiseIndex(cfg)
    after = {}
    for name, idx, asked in (("plain", plain, []), ("routed", routed, ["erin"])):
        idx.observe_post(post("q", "carol", "kombucha scoby care", ts(1), tags=["kombucha"]))
        idx.route("q", asked, now=ts(1), author="carol")
        idx.observe_post(post("r", "erin", "feed it sweet tea", ts(1, 1), reply_to="q"))
        idx.observe_reaction({"actor_id": "carol", "post_id": "r", "kind": "accept", "created_at": ts(1, 2)})
        after[name] = idx.helpers["erin"].doclen
        idx.observe_reaction({"actor_id": "dave", "post_id": "r", "kind": "upvote", "created_at": ts(1, 3)})
        assert idx.helpers["erin"].doclen == after[name]  # the upvote after the accept teaches nothing more
    assert after["routed"] > after["plain"]


def _topical_stream(idx: ExpertiseIndex, days: int) -> None:
    """erin answers hop questions (#ipa) and only those, every few days; rob answers
    everything else, several times a day, and is the most recent answerer at the end."""
    for d in range(days):
        idx.observe_post(post(f"h{d}", "asker", "Which hops for a hazy ipa, citra or mosaic?",
                              ts(d), tags=["ipa"]))
        if d % 3 == 0:
            idx.observe_post(post(f"h{d}e", "erin", "Citra and mosaic late in the boil.", ts(d, 2), f"h{d}"))
        for j in range(3):
            idx.observe_post(post(f"s{d}{j}", "asker", f"Which glass for a stout, number {j}?",
                                  ts(d, 4 + j), tags=["stout"]))
            idx.observe_post(post(f"s{d}{j}r", "rob", "A tulip glass for that stout.", ts(d, 4 + j), f"s{d}{j}"))


def test_the_topical_expert_outranks_the_most_recent_answerer():
    """A question with topical evidence gets a first candidate with topical evidence: erin,
    who answered its tag, ranks before rob, who answered the last questions (other topics)."""
    idx = ExpertiseIndex()
    _topical_stream(idx, 9)
    rob = idx.helpers["rob"]
    assert rob.last_answers > idx.helpers["erin"].last_answers  # rob is the most recent answerer
    got = idx.rank(post("new", "asker2", "First ipa: which hops?", ts(9, 1), tags=["ipa"]))
    assert ids(got)[:2] == ["erin", "rob"]
    assert any("tagged ipa" in r for r in got[0].reasons)
    # with no topical evidence at all, activity alone decides: rob first
    assert ids(idx.rank(post("new2", "asker2", "zzz qqq", ts(9, 1))))[0] == "rob"


def test_learning_weighs_topic_by_who_answered_and_starts_from_the_hand_weights():
    """Online: each root keeps its candidates' features, each answer is a step towards the
    answerer. Where answers follow the topic, the text weight rises and the expert outranks
    the recent answerer on activity and topic alone (no topical lead); with the hand weights,
    rob's activity wins."""
    cold = ExpertiseIndex(MatchConfig(learn_rate=0.05))
    assert cold.weights()["text"] == MatchConfig().w_text and cold.core.n_learnt() == 0
    q = post("new", "asker2", "First ipa: which hops?", ts(30, 1), tags=["ipa"])
    fixed = ExpertiseIndex(MatchConfig(learn_rate=0.0, topical_lead=0))
    _topical_stream(fixed, 30)
    assert ids(fixed.rank(q)) == ["rob", "erin"] and fixed.core.n_snapshots() == 0
    idx = ExpertiseIndex(MatchConfig(learn_rate=0.05, topical_lead=0))
    _topical_stream(idx, 30)
    assert idx.core.n_learnt() > 30 and idx.core.n_snapshots() > 0
    w = idx.weights()
    assert w["text"] > 2 * MatchConfig().w_text and min(w.values()) >= 0.0
    assert ids(idx.rank(q)) == ["erin", "rob"]


def test_evaluate_reports_bootstrap_intervals_and_reference_rankers(tmp_path):
    def P(pid, author, text, when, reply_to=None):
        return dict(post(pid, author, text, when, reply_to), type="post")

    events = [P("q1", "u1", "sourdough", ts(0)), P("a1", "u2", "feed", ts(0, 1), "q1"),
              P("q2", "u3", "sourdough starter", ts(1)), P("a2", "u2", "feed", ts(1, 1), "q2"),
              P("q3", "u1", "bread", ts(2)), P("a3", "u4", "bake", ts(2, 1), "q3")]
    out = evaluate(_write(tmp_path, events), reference=True)
    lo, hi = out["ci95"]["all"]["mrr@10"]
    assert 0.0 <= lo <= out["all"]["mrr@10"] <= hi <= 1.0
    assert set(out["reference"]) == {"answers", "bm25", "bm25_answers"}
    assert out["reference"]["answers"]["mrr@10"] == pytest.approx(round(1 / 3, 4))
    assert out["vs_best_reference"] == pytest.approx(1.0)


def test_a_reply_seen_again_is_learnt_once():
    once, twice = ExpertiseIndex(), ExpertiseIndex()
    seed(once)
    seed(twice)
    again = post("r0a", "alice", "Feed the starter flour and water daily.", ts(0, 1), reply_to="q0a")
    assert twice.observe_post(again) is None  # classify's at-least-once output, or a reclassify
    q = post("new1", "dave", "My sourdough starter smells odd", ts(3), tags=["baking"])
    assert [(c.helper_id, c.score) for c in once.rank(q)] == [(c.helper_id, c.score) for c in twice.rank(q)]
