from pathlib import Path

import pytest

from services.core.settings import VARIABLES, env_example
from services.ingest.auth import authenticate, load_keys, parse_keys

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_is_generated_from_the_settings():
    assert (ROOT / ".env.example").read_text() == env_example(), "run `goalpost config > .env.example`"


def test_every_variable_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [v.name for v in VARIABLES if v.name not in readme]
    assert not missing


def test_keys_are_stored_hashed_and_checked():
    keys = parse_keys("ops:s3cret, backfill:other")
    assert set(keys) == {"ops", "backfill"}
    assert all(b"s3cret" not in digest for digest in keys.values())
    assert authenticate("Bearer s3cret", keys) == "ops"
    assert authenticate("Bearer other", keys) == "backfill"
    assert authenticate("Bearer wrong", keys) is None
    assert authenticate("s3cret", keys) is None
    assert authenticate(None, keys) is None


def test_keys_file_and_bad_entries(tmp_path):
    f = tmp_path / "keys"
    f.write_text("# comment\nfile:abc\n")
    assert set(load_keys("env:xyz", str(f))) == {"env", "file"}
    with pytest.raises(ValueError):
        parse_keys("no-colon-here")
