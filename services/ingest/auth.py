"""API keys for ingest writes: configured by the operator, kept only as SHA-256 digests,
compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Optional


def parse_keys(spec: str) -> dict[str, bytes]:
    """`name:key,name2:key2` (or one pair per line) -> {name: sha256(key)}."""
    keys: dict[str, bytes] = {}
    for part in spec.replace("\n", ",").split(","):
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        name, sep, key = part.partition(":")
        if not sep or not name or not key:
            raise ValueError(f"API key entry {name or part[:8]!r} is not name:key")
        keys[name.strip()] = hashlib.sha256(key.strip().encode()).digest()
    return keys


def load_keys(keys_env: str, keys_file: str) -> dict[str, bytes]:
    keys = parse_keys(keys_env) if keys_env else {}
    if keys_file:
        keys.update(parse_keys(Path(keys_file).read_text()))
    return keys


def authenticate(header: Optional[str], keys: dict[str, bytes]) -> Optional[str]:
    """The key's name for a valid `Authorization: Bearer <key>` header, else None."""
    if not header or not header.startswith("Bearer "):
        return None
    digest = hashlib.sha256(header[7:].strip().encode()).digest()
    found = None
    for name, expected in keys.items():  # compare with every key: timing does not reveal which
        if hmac.compare_digest(digest, expected):
            found = name
    return found
