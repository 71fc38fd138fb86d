"""classify: every post on posts.v1 gets an intent, scores and topics on posts.classified.v1.
Thin: decode a batch, call the pure model (services/classify/model.py), send."""
from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import Counter, Histogram

from services.classify.model import MODEL_VERSION, classify_batch
from services.core.contracts import ClassifiedPost, Post
from services.core.openapi import classify_document
from services.core.runtime import Runtime, json_response, problem

POSTS_BY_INTENT = Counter("goalpost_classify_posts_total", "Posts classified, by intent", ["intent"])
CONFIDENCE = Histogram("goalpost_classify_confidence", "Confidence of the chosen intent",
                       buckets=(.3, .4, .5, .6, .7, .8, .9, .95, .99, 1))

rt = Runtime("classify")


def _done_key(post_id: str) -> str:
    return f"done:classified:{post_id}"


def classified(post: Post, result: Any) -> ClassifiedPost:
    return ClassifiedPost(
        post_id=post.post_id, author_id=post.author_id, text=post.text, created_at=post.created_at,
        reply_to=post.reply_to, tags=post.tags, source=post.source, intent=result.intent,
        confidence=round(result.confidence, 4), scores={k: round(v, 4) for k, v in result.scores.items()},
        topics=list(result.topics), model_version=MODEL_VERSION)


async def classify_posts(records: list) -> None:
    decoded = await rt.decode_or_dead_letter(records, Post)
    todo = await rt.not_done([post.post_id for _, post in decoded], _done_key)
    posts = list({post.post_id: post for _, post in decoded if post.post_id in todo}.values())
    sealed = {p.post_id: p.text for p in posts}
    posts = await rt.open_texts(posts)  # the posts of erased authors are gone: nothing to classify
    results = classify_batch([p.text for p in posts], [p.tags for p in posts])
    out = [classified(p, r) for p, r in zip(posts, results)]
    for rec in out:  # the text goes on as it came: sealed
        rec.text = sealed[rec.post_id]
    for rec in out:
        POSTS_BY_INTENT.labels(rec.intent).inc()
        CONFIDENCE.observe(rec.confidence)
    await rt.send_records(out)
    await rt.mark_done([rec.post_id for rec in out], _done_key)


async def classify_route(view, request) -> Any:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return problem(view, 400, "Bad Request", f"body is not valid JSON: {exc}", field="$")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
        return problem(view, 422, "Unprocessable Content", "a non-empty string is required", field="text")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return problem(view, 422, "Unprocessable Content", "must be a list of strings", field="tags")
    (result,) = classify_batch([body["text"]], [tags])
    return json_response(view, {"intent": result.intent, "confidence": result.confidence,
                                "scores": result.scores, "topics": result.topics,
                                "model_version": MODEL_VERSION})


rt.stream_batches("posts.v1", classify_posts)
rt.route("/v1/classify", classify_route, methods=("POST",), scope="read")
rt.serve_openapi(classify_document())
rt.state_recovered.set()  # the model is loaded at import; no other state
classify_batch(["warm up the model"])  # the model is then frozen with the rest of the startup heap (settle_heap)
app = rt.app
