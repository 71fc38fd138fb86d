"""Crypto-shredding (services/core/privacy.py): a sealed text opens with its author's key only."""
import os

from services.core.privacy import KEY_NAMES, erased_token, is_sealed, seal, unseal


def test_a_sealed_text_opens_with_the_authors_key_only():
    key, other = os.urandom(32), os.urandom(32)
    sealed = seal(key, "My sourdough starter will not rise", "alice")
    assert is_sealed(sealed) and "sourdough" not in sealed
    assert unseal(key, sealed, "alice") == "My sourdough starter will not rise"
    assert unseal(other, sealed, "alice") is None      # another key
    assert unseal(key, sealed, "bob") is None          # bound to its author: not movable to another
    assert unseal(None, sealed, "alice") is None       # the key was destroyed: erased
    assert seal(key, "same", "alice") != seal(key, "same", "alice")  # a fresh nonce each time


def test_a_text_never_sealed_passes_through_and_tampering_is_refused():
    key = os.urandom(32)
    assert unseal(None, "plain text from a tool", "alice") == "plain text from a tool"
    sealed = seal(key, "hello", "alice")
    assert unseal(key, sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1], "alice") is None
    assert unseal(key, "gp1:not-base64!!", "alice") is None


def test_the_erased_set_holds_a_digest_not_the_id():
    token = erased_token("alice")
    assert "alice" not in token and token == erased_token("alice") != erased_token("alicf")


def test_readers_cache_keys_briefly_but_a_writer_always_asks():
    import asyncio

    from services.core.privacy import KeyRing
    calls = []
    store = {"alice": b"k" * 32}

    async def script(keys, args):
        assert keys == KEY_NAMES  # declared, for Redis Cluster
        calls.append(args)
        return [store.get(args[i]) for i in range(0, len(args), 3)]

    ring = KeyRing(None, script)
    assert asyncio.run(ring.keys_for(["alice"])) == {"alice": b"k" * 32}
    asyncio.run(ring.keys_for(["alice"]))
    assert len(calls) == 1                        # a reader: cached
    del store["alice"]                            # erased by another worker
    assert asyncio.run(ring.keys_for(["alice"], create=True)) == {"alice": None}  # a writer sees it at once
    assert len(calls) == 2


def test_the_keys_a_script_touches_together_share_one_cluster_slot():
    from redis.crc import key_slot

    from services.ingest.guards import _idem_key, rate_key
    assert len({key_slot(k.encode()) for k in KEY_NAMES}) == 1
    assert len({key_slot(k.encode()) for k in (_idem_key("post", "p1"), rate_key("author:u1"), rate_key("key:dev"))}) == 1
