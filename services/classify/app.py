"""classify: every post on posts.v1 gets an intent, scores and topics on posts.classified.v1.
`classify_posts` is the handler (posts in, classified posts out); `build` wires it to Kafka."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

import orjson
from prometheus_client import Counter, Histogram

from services.classify.model import MODEL_VERSION, classify_batch
from services.core.contracts import ClassifiedPost, Post
from services.core.openapi import classify_document
from services.core.runtime import RecordHandler, Runtime, json_response, problem
from services.core.settings import Settings

POSTS_BY_INTENT = Counter("goalpost_classify_posts_total", "Posts classified, by intent", ["intent"])
CONFIDENCE = Histogram("goalpost_classify_confidence", "Confidence of the chosen intent",
                       buckets=(.3, .4, .5, .6, .7, .8, .9, .95, .99, 1))

OpenTexts = Callable[[list[Post]], Awaitable[list[Post]]]


def done_key(post_id: str) -> str:
    return f"{{classify}}:done:{post_id}"


def classified(post: Post, result: Any) -> ClassifiedPost:
    return ClassifiedPost(
        post_id=post.post_id, author_id=post.author_id, text=post.text, created_at=post.created_at,
        reply_to=post.reply_to, tags=post.tags, source=post.source, intent=result.intent,
        confidence=round(result.confidence, 4), scores={k: round(v, 4) for k, v in result.scores.items()},
        topics=list(result.topics), model_version=MODEL_VERSION)


def classify_posts(open_texts: OpenTexts) -> RecordHandler[Post]:
    """The handler: classifies the posts whose texts `open_texts` can open (an erased author's
    cannot: nothing to classify) and passes each text on as it came, sealed."""
    async def handle(posts: list[Post]) -> list[Any]:
        sealed = {p.post_id: p.text for p in posts}
        opened = await open_texts(posts)
        results = classify_batch([p.text for p in opened], [p.tags for p in opened])
        out = [classified(p, r) for p, r in zip(opened, results)]
        for rec in out:
            rec.text = sealed[rec.post_id]
            POSTS_BY_INTENT.labels(rec.intent).inc()
            CONFIDENCE.observe(rec.confidence)
        return out
    return RecordHandler(Post, handle, done_key=done_key, id_of=lambda post: post.post_id)


async def classify_route(view: Any, request: Any) -> Any:
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


def build(settings: Optional[Settings] = None) -> Runtime:
    rt = Runtime("classify", settings)
    rt.handle("posts.v1", classify_posts(rt.open_texts))
    rt.route("/v1/classify", classify_route, methods=("POST",), scope="read")
    rt.serve_openapi(classify_document())
    rt.state_recovered.set()  # the model is loaded at import; no other state
    classify_batch(["warm up the model"])  # the model is then frozen with the rest of the startup heap (settle_heap)
    return rt
