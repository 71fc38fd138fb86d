from pathlib import Path

import pytest

from services.core.auth import Refusal, authenticate, authorise, entries, load_keys, parse_keys
from services.core.settings import VARIABLES, env_example

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_is_generated_from_the_settings():
    assert (ROOT / ".env.example").read_text() == env_example(), "run `goalpost config > .env.example`"


def test_every_variable_is_documented_for_operators():
    operations = (ROOT / "docs" / "operations.md").read_text()
    missing = [v.name for v in VARIABLES if v.name not in operations]
    assert not missing


def test_keys_are_stored_hashed_and_checked():
    keys = parse_keys("ops:s3cret, backfill:other")
    assert set(keys) == {"ops", "backfill"}
    assert all(b"s3cret" not in key.digest for key in keys.values())
    assert authenticate("Bearer s3cret", keys).name == "ops"
    assert authenticate("Bearer other", keys).name == "backfill"
    assert authenticate("Bearer wrong", keys) is None
    assert authenticate("s3cret", keys) is None
    assert authenticate(None, keys) is None


def test_keys_file_and_bad_entries(tmp_path):
    f = tmp_path / "keys"
    f.write_text("# comment\nfile:abc\n")
    assert set(load_keys("env:xyz", str(f))) == {"env", "file"}
    with pytest.raises(ValueError):
        parse_keys("no-colon-here")
    with pytest.raises(ValueError):
        parse_keys("name:")


def test_scopes_default_to_write_and_read_and_a_key_may_hold_colons():
    keys = parse_keys("plain:k1, reader:k2:read, ops:k3:admin+read, odd:a:b:c")
    assert keys["plain"].scopes == {"write", "read"}
    assert keys["reader"].scopes == {"read"} and keys["ops"].scopes == {"admin", "read"}
    assert keys["odd"].scopes == {"write", "read"}          # "c" is no scope: part of the key
    assert authenticate("Bearer a:b:c", keys).name == "odd"
    assert entries("dev:tok:write+read+admin") == [("dev", "tok", frozenset({"write", "read", "admin"}))]


def test_authorise_answers_401_without_a_key_and_403_without_the_scope():
    keys = parse_keys("reader:k2:read, writer:k1:write")
    assert authorise(None, keys, "read") == Refusal(401, authorise(None, keys, "read").detail)
    assert authorise("Bearer nope", keys, "read").status == 401
    refused = authorise("Bearer k1", keys, "read")
    assert isinstance(refused, Refusal) and refused.status == 403 and "read" in refused.detail
    assert authorise("Bearer k2", keys, "read").name == "reader"
    assert authorise("Bearer k1", keys, "write").name == "writer"
