"""match's Redis keys on a cluster (services/match/asks.py): every key hashes to the one slot of
the `{match}` tag, whatever the ids hold, and each script's KEYS and ARGV are built in the order
the script reads them, naming every key it touches (no Lua builds a key)."""
import re

import pytest
from redis.crc import key_slot

from services.match import asks

SLOT = key_slot(b"{match}")
IDS = ["p1", "user/with/slashes", "{other}", "a}b{c", "ünï:cødé", "", "*"]
KEY_FUNCTIONS = [asks.inbox_key, asks.match_key, asks.asks_key, asks.wave_key, asks.withdrawn_key, asks.flags_key,
                 asks.erasing_key]
SCRIPTS = {name: lua for name, lua in vars(asks).items() if name.endswith("_LUA")}


def slots(keys) -> set[int]:
    return {key_slot(k.encode()) for k in keys}


@pytest.mark.parametrize("key", KEY_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_match_key_hashes_to_the_match_slot(key):
    assert slots(key(i) for i in IDS) == {SLOT}
    assert key("x").startswith("{match}:")


def test_the_due_set_and_the_erasure_patterns_carry_the_tag():
    assert slots([asks.DUE_KEY]) == {SLOT}
    assert asks.ASKS_PATTERN == "{match}:asks:*" and asks.FLAGS_PATTERN == "{match}:flags:*"
    assert asks.MATCHES_PATTERN == "{match}:post:*"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_no_script_builds_a_key_or_decodes_ids_from_json(name):
    lua = SCRIPTS[name]
    assert not re.search(r"""['"]\{?match[}:]""", lua), "a key named inside Lua"
    assert "cjson" not in lua
    # a command's key is a local bound from KEYS: never a literal, nor taken from ARGV
    assert not re.search(r"redis\.call\('[A-Z]+', ('|ARGV)", lua)


def test_store_names_each_waves_keys_then_its_inboxes_in_argv_order():
    waves = [["p1", "{m}", 1, 1, "{post}", 1.0e9, 1.0e9 + 4, 0, [["h1", "d1"], ["h2", "d2"]]],
             ["p2", "{m}", 2, 0, "", 0, -1, 1, []]]
    keys, args = asks.store_call(waves)
    assert keys == ["{match}:waves:due",
                    "{match}:wave:p1", "{match}:withdrawn:p1", "{match}:post:p1", "{match}:asks:p1",
                    "{match}:inbox:h1", "{match}:inbox:h2",
                    "{match}:wave:p2", "{match}:withdrawn:p2", "{match}:post:p2", "{match}:asks:p2"]
    assert args == ["p1", "{m}", 1, 1, "{post}", 1.0e9, 1.0e9 + 4, 0, 2, "h1", "d1", "h2", "d2",
                    "p2", "{m}", 2, 0, "", 0, -1, 1, 0]
    assert len(args) - 13 == asks.WAVE_FIELDS  # p2's fields (n included), with no pairs after them
    assert slots(keys) == {SLOT}


def test_claim_names_the_due_set_then_each_posts_state_and_asks():
    keys, args = asks.claim_call(["p1", "p2"], 100.0, 30.0)
    assert keys == ["{match}:waves:due", "{match}:wave:p1", "{match}:asks:p1", "{match}:wave:p2", "{match}:asks:p2"]
    assert args == [100.0, 30.0, "p1", "p2"]
    # the script reads post ARGV[i] (i from 3) with KEYS[2i-4] and KEYS[2i-3]
    for i, post_id in enumerate(args[2:], start=3):
        assert keys[2 * i - 5] == asks.wave_key(post_id) and keys[2 * i - 4] == asks.asks_key(post_id)


def test_end_names_each_posts_keys_and_the_inboxes_of_the_helpers_read():
    keys, args = asks.end_call([("p1", "r", False, ["h1", "h2"]), ("p2", "", True, [])])
    assert keys == ["{match}:waves:due", "{match}:wave:p1", "{match}:asks:p1", "{match}:post:p1",
                    "{match}:inbox:h1", "{match}:inbox:h2", "{match}:wave:p2", "{match}:asks:p2", "{match}:post:p2"]
    assert args == ["p1", "r", 0, 2, "h1", "h2", "p2", "", 1, 0]


def test_decline_sending_and_flag_name_one_group_of_keys_per_item():
    keys, args = asks.decline_call([("p1", "h1"), ("p2", "h2")], 5.0)
    assert keys == ["{match}:waves:due", "{match}:inbox:h1", "{match}:asks:p1", "{match}:wave:p1",
                    "{match}:inbox:h2", "{match}:asks:p2", "{match}:wave:p2"]
    assert args == [5.0, "p1", "h1", "p2", "h2"]
    assert asks.sending_call([("p1", "s1"), ("p2", "s2")]) == (["{match}:wave:p1", "{match}:wave:p2"], ["s1", "s2"])
    keys, args = asks.flag_call([("p1", "u1"), ("p1", "u2")], 3, 60)
    assert keys == ["{match}:flags:p1", "{match}:withdrawn:p1"] * 2
    assert args == [3, 60, "p1", "u1", "p1", "u2"]
