"""API keys: configured by the operator, kept only as SHA-256 digests, compared in constant
time. Each key carries scopes: `write` (ingest's write routes), `read` (the data routes of
every service), `admin` (erasure, ledger adjustments); a key given without scopes has
`write+read`."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SCOPES = frozenset({"write", "read", "admin"})
DEFAULT_SCOPES = frozenset({"write", "read"})


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes
    scopes: frozenset[str]


@dataclass(frozen=True)
class Refusal:
    """Why a request is not authorised: 401 (no or unknown key) or 403 (key without the scope)."""
    status: int
    detail: str


def _scopes(text: str) -> Optional[frozenset[str]]:
    """The scopes of a `read+write` suffix, or None when it is not one (then it is part of the key)."""
    parts = frozenset(p.strip() for p in text.split("+"))
    return parts if parts and parts <= SCOPES else None


def entries(spec: str) -> list[tuple[str, str, frozenset[str]]]:
    """`name:key[:scope+scope],...` (or one entry per line) -> [(name, key, scopes)]."""
    out = []
    for part in spec.replace("\n", ",").split(","):
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        name, sep, key = part.partition(":")
        scopes = DEFAULT_SCOPES
        secret, colon, suffix = key.rpartition(":")
        if colon and secret and (found := _scopes(suffix)) is not None:
            key, scopes = secret, found
        if not sep or not name.strip() or not key.strip():
            raise ValueError(f"API key entry {name or part[:8]!r} is not name:key[:scopes]")
        out.append((name.strip(), key.strip(), scopes))
    return out


def parse_keys(spec: str) -> dict[str, ApiKey]:
    """{name: ApiKey} of a key spec (see `entries`); only the keys' digests are kept."""
    return {name: ApiKey(name, hashlib.sha256(key.encode()).digest(), scopes)
            for name, key, scopes in entries(spec)}


def load_keys(keys_env: str, keys_file: str) -> dict[str, ApiKey]:
    keys = parse_keys(keys_env) if keys_env else {}
    if keys_file:
        keys.update(parse_keys(Path(keys_file).read_text()))
    return keys


def authenticate(header: Optional[str], keys: dict[str, ApiKey]) -> Optional[ApiKey]:
    """The key of a valid `Authorization: Bearer <key>` header, else None."""
    if not header or not header.startswith("Bearer "):
        return None
    digest = hashlib.sha256(header[7:].strip().encode()).digest()
    found = None
    for key in keys.values():  # compare with every key: timing does not reveal which
        if hmac.compare_digest(digest, key.digest):
            found = key
    return found


def authorise(header: Optional[str], keys: dict[str, ApiKey], scope: str) -> ApiKey | Refusal:
    """The key when it holds `scope`, else the refusal to answer."""
    key = authenticate(header, keys)
    if key is None:
        return Refusal(401, "a valid 'Authorization: Bearer <API key>' is required")
    if scope not in key.scopes:
        return Refusal(403, f"the API key {key.name!r} lacks the {scope!r} scope")
    return key
