"""The ingest front door on the real stack: auth, validation, idempotency, batches, raw topics."""
import base64
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import redis

from services.core.settings import env
from services.ingest.guards import rate_key
from tests.integration.conftest import produce_raw, read_topic, wait_for


def test_writes_need_a_valid_key(http, run_id):
    body = {"author_id": f"{run_id}:u", "text": "hello"}
    status, headers, problem = http.request("POST", "ingest", "/v1/posts", body, auth=False)
    assert status == 401 and headers["Content-Type"].startswith("application/problem+json")
    status, _, _ = http.request("POST", "ingest", "/v1/posts", body, auth=False,
                                headers={"Authorization": "Bearer not-a-key"})
    assert status == 401


def test_invalid_input_is_a_problem_naming_the_field(http, run_id):
    status, problem = http.post("ingest", "/v1/posts", {"author_id": f"{run_id}:u", "text": "   "})
    assert status == 422 and problem["field"] == "text" and problem["status"] == 422
    status, problem = http.post("ingest", "/v1/posts", None, raw=b"{not json")
    assert status == 400 and problem["field"] == "$"
    status, problem = http.post("ingest", "/v1/reactions", {"actor_id": "a", "post_id": "p", "kind": "love"})
    assert status == 422 and problem["field"] == "kind"


def test_repeated_post_id_is_acknowledged_once_and_written_once(http, run_id):
    body = {"post_id": f"{run_id}:p", "author_id": f"{run_id}:u", "text": "Where can I learn to juggle?"}
    assert http.post("ingest", "/v1/posts", body) == (202, {"status": "accepted", "post_id": f"{run_id}:p"})
    assert http.post("ingest", "/v1/posts", body) == (200, {"status": "duplicate", "post_id": f"{run_id}:p"})
    hdr = {"Idempotency-Key": f"{run_id}:k"}
    first = http.request("POST", "ingest", "/v1/posts", {"author_id": f"{run_id}:u", "text": "again"}, headers=hdr)
    second = http.request("POST", "ingest", "/v1/posts", {"author_id": f"{run_id}:u", "text": "again"}, headers=hdr)
    assert (first[0], second[0]) == (202, 200) and first[2]["post_id"] == second[2]["post_id"]
    written = read_topic("posts.v1", lambda r: r["author_id"] == f"{run_id}:u")
    assert sorted(r["post_id"] for r in written) == sorted([f"{run_id}:p", first[2]["post_id"]])
    assert all(r["_key"] == f"{run_id}:u" and r["source"] == "http" for r in written)


def test_concurrent_repeats_of_one_post_id_are_written_once(http, run_id):
    """Requests in flight together share one Redis round trip for their idempotency claims
    (core/coalesce.py): the claims must still be taken one after the other."""
    body = {"post_id": f"{run_id}:same", "author_id": f"{run_id}:u", "text": "Who can teach me to knit?"}
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: http.post("ingest", "/v1/posts", body), range(16)))
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(202) == 1, statuses
    assert set(statuses) <= {202, 200, 503}  # 503: "in progress, retry" while the first write is pending
    written = wait_for(lambda: read_topic("posts.v1", lambda r: r["post_id"] == f"{run_id}:same"), what="the post")
    assert len(written) == 1


def test_concurrent_distinct_posts_are_all_accepted(http, run_id):
    bodies = [{"author_id": f"{run_id}:u{i % 4}", "text": f"I want to learn chess, lesson {i}"} for i in range(40)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda b: http.post("ingest", "/v1/posts", b), bodies))
    assert [status for status, _ in answers] == [202] * 40
    ids = {body["post_id"] for _, body in answers}
    assert len(ids) == 40
    written = wait_for(lambda: (lambda rs: rs if len(rs) >= 40 else None)(
        read_topic("posts.v1", lambda r: r["author_id"].startswith(f"{run_id}:u"))), what="40 posts")
    assert {r["post_id"] for r in written} == ids


def test_batch_answers_per_item(http, run_id):
    ndjson = b"\n".join(orjson.dumps(x) for x in [
        {"author_id": f"{run_id}:a", "text": "I want to run a marathon this year"},
        {"author_id": f"{run_id}:b"},
        {"author_id": f"{run_id}:c", "text": "Try interval training twice a week", "tags": ["Running"]},
    ])
    status, _, body = http.request("POST", "ingest", "/v1/posts/batch", raw=ndjson,
                                   headers={"Content-Type": "application/x-ndjson"})
    assert status == 202 and (body["accepted"], body["rejected"]) == (2, 1)
    assert body["results"][1] == {"index": 1, "status": "rejected", "field": "text", "error": "is required"}


def test_author_rate_limit_answers_429_with_retry_after(http, run_id):
    def spam_until_refused() -> list[int]:
        statuses = []
        for i in range(400):
            status, headers, _ = http.request("POST", "ingest", "/v1/posts",
                                              {"author_id": f"{run_id}:spam", "text": f"m{i}"})
            statuses.append(status)
            if status == 429:
                assert int(headers["Retry-After"]) >= 1
                break
        return statuses

    statuses = spam_until_refused()
    assert statuses[0] == 202 and statuses[-1] == 429
    # A refused request claimed nothing: the same post_id, once the bucket has refilled, is
    # written (not taken for a repeat, nor for a write in progress). The bucket refills a token
    # every 50 ms, so the request right after a refusal may find one again: then that post was
    # simply written, and the check starts over with a fresh id.
    for attempt in range(20):
        post = {"post_id": f"{run_id}:limited-{attempt}", "author_id": f"{run_id}:spam", "text": "Is this one in?"}
        status = http.post("ingest", "/v1/posts", post)[0]
        if status == 429:
            break
        assert status == 202
        assert spam_until_refused()[-1] == 429
    else:
        raise AssertionError("the author's bucket never refused the tracked post")
    assert wait_for(lambda: (lambda r: r if r[0] != 429 else None)(http.post("ingest", "/v1/posts", post)),
                    timeout=10, what="the bucket refilled") == (202, {"status": "accepted", "post_id": post["post_id"]})


def test_rate_limit_buckets_stay_out_of_the_aof_and_claims_do_not(http, run_id):
    """A bucket is seconds of state; written to the AOF at every request it made Redis rewrite
    the file every few minutes under load, and each rewrite slowed the requests meanwhile. An
    idempotency claim must survive a Redis restart, so it is in the AOF."""
    author, post_id = f"{run_id}:aof-author", f"{run_id}:aof-post"
    post = {"post_id": post_id, "author_id": author, "text": "Does this bucket reach the disk?"}
    assert http.post("ingest", "/v1/posts", post)[0] == 202
    r = redis.Redis.from_url(env("GOALPOST_REDIS_URL"))
    assert r.hgetall(rate_key(f"author:{author}")), "the bucket exists in memory"
    aof_dir = Path(r.config_get("dir")["dir"]) / r.config_get("appenddirname")["appenddirname"]
    # Redis writes its AOF buffer to the file before it sends the replies of each turn of its
    # loop, so the 202 (sent after the claim was confirmed) means both writes are there if at all.
    aof = b"".join(f.read_bytes() for f in aof_dir.iterdir() if "manifest" not in f.name)
    assert f"{{ingest}}:idem:post:{post_id}".encode() in aof
    assert rate_key(f"author:{author}").encode() not in aof


def test_raw_topic_garbage_goes_to_the_dead_letter_topic(run_id):
    bad = [b"\xff\xfe not utf-8 json " + run_id.encode(), orjson.dumps({"author_id": f"{run_id}:raw", "text": ""})]
    good = orjson.dumps({"post_id": f"{run_id}:rawok", "author_id": f"{run_id}:raw", "text": "Any tips for a first 10k?"})
    produce_raw("posts.raw.v1", bad + [good], key=f"{run_id}:raw".encode())
    letters = wait_for(lambda: (lambda r: r if len(r) >= 2 else None)(read_topic(
        "dlq.v1", lambda r: base64.b64decode(r["payload"]) in bad)), what="both bad messages on dlq.v1")
    assert {letter["service"] for letter in letters} == {"ingest"} and {letter["topic"] for letter in letters} == {"posts.raw.v1"}
    assert any("text" in letter["error"] for letter in letters) and any("JSON" in letter["error"] for letter in letters)
    posts = wait_for(lambda: read_topic("posts.v1", lambda r: r["post_id"] == f"{run_id}:rawok"), what="the good raw post")
    assert posts[0]["source"] == "topic:posts.raw.v1"
