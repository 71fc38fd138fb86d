"""Crypto-shredding of post texts (docs/design.md, "Erasure").

Every post text is sealed by ingest with its author's own key (AES-256-GCM, the author's id as
associated data) before it reaches a topic, and opened by the services that read it. The keys
live in Redis (`{privacy}:keys`, AOF-persisted); erasing a user deletes their key, so every copy
of their texts on every topic, kept forever or not, is unreadable from then on, and records a
digest of the id (`{privacy}:erased`, never the id itself) so that no key is made for it again.
"""
from __future__ import annotations

import base64
import hashlib
import os
import time
from typing import Any, Iterable, Optional

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED = "gp1:"              # prefix of a sealed text: version 1, nonce + ciphertext + tag in base64url
KEYS = "{privacy}:keys"      # hash: user id -> 32-byte key
ERASED = "{privacy}:erased"  # set: erased_token(user id) of every erased user
KEY_NAMES = [KEYS, ERASED]   # the KEYS of KEYS_FOR_LUA and ERASE_LUA
CACHE_S = 5.0                # a key is re-read after this long: an erasure is seen within seconds

# Keys for users, made on first use; none for an erased user. KEYS: KEY_NAMES. ARGV: triples
# (user, token, new key or '').
KEYS_FOR_LUA = """
local out = {}
for i = 1, #ARGV, 3 do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i + 1]) == 1 then
    table.insert(out, false)
  else
    if ARGV[i + 2] ~= '' then redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2]) end
    table.insert(out, redis.call('HGET', KEYS[1], ARGV[i]) or false)
  end
end
return out
"""


# Destroys a user's key and marks them erased. KEYS: KEY_NAMES. ARGV: user, token.
ERASE_LUA = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""

# Which of the given tokens are erased. KEYS: ERASED. ARGV: tokens. Returns 1/0 each.
ERASED_LUA = """
local out = {}
for i = 1, #ARGV do out[i] = redis.call('SISMEMBER', KEYS[1], ARGV[i]) end
return out
"""


def erased_token(user_id: str) -> str:
    """What the erased set holds for a user: a digest, not the id."""
    return hashlib.sha256(b"goalpost-erased\x00" + user_id.encode()).hexdigest()


def is_sealed(text: Any) -> bool:
    return isinstance(text, str) and text.startswith(SEALED)


def seal(key: bytes, text: str, user_id: str) -> str:
    nonce = os.urandom(12)
    box = AESGCM(key).encrypt(nonce, text.encode(), user_id.encode())
    return SEALED + base64.urlsafe_b64encode(nonce + box).decode()


def unseal(key: Optional[bytes], text: str, user_id: str) -> Optional[str]:
    """The clear text, or None when it cannot be read (the author was erased, or the text is not
    theirs). A text that was never sealed (a tool writing to a topic directly) passes through."""
    if not is_sealed(text):
        return text
    if key is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text[len(SEALED):])
        return AESGCM(key).decrypt(raw[:12], raw[12:], user_id.encode()).decode()
    except (InvalidTag, ValueError):
        return None


class KeyRing:
    """The users' keys, read from Redis in one script call per batch. Readers cache them for
    CACHE_S (an erasure then takes effect within that); writers (`create`) never use the cache,
    so no worker seals a new text with the key of a user another worker has just erased."""

    def __init__(self, redis: Any, script: Any) -> None:
        self._redis = redis
        self._script = script          # Runtime.script-registered KEYS_FOR_LUA
        self._cache: dict[str, tuple[float, Optional[bytes]]] = {}

    async def keys_for(self, users: Iterable[str], create: bool = False) -> dict[str, Optional[bytes]]:
        """{user: key or None (erased, or no key and not `create`)}."""
        now = time.monotonic()
        out: dict[str, Optional[bytes]] = {}
        missing = []
        for user in dict.fromkeys(users):
            hit = None if create else self._cache.get(user)  # a writer always asks: an erasure by
            if hit is not None and now - hit[0] < CACHE_S:     # another worker counts at once
                out[user] = hit[1]
            else:
                missing.append(user)
        if missing:
            args: list[Any] = []
            for user in missing:
                args += [user, erased_token(user), os.urandom(32) if create else ""]
            found = await self._script(keys=KEY_NAMES, args=args)
            for user, key in zip(missing, found):
                out[user] = key or None
                self._cache[user] = (now, key or None)
            if len(self._cache) > 100_000:  # bounded: the oldest half goes
                for user in sorted(self._cache, key=lambda u: self._cache[u][0])[:50_000]:
                    del self._cache[user]
        return out

    async def open_texts(self, posts: list[Any]) -> list[Any]:
        """Posts (with author_id and a sealed text) with their texts opened, in place; those whose
        author was erased are left out."""
        keys = await self.keys_for([p.author_id for p in posts if is_sealed(p.text)])
        out = []
        for post in posts:
            text = unseal(keys.get(post.author_id), post.text, post.author_id)
            if text is not None:
                post.text = text
                out.append(post)
        return out

    def forget(self, user: str) -> None:
        self._cache.pop(user, None)
