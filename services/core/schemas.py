"""Writes the JSON Schema of every record to services/core/schemas/ (`goalpost contracts`).
The committed files are checked against the code by tests/unit/test_contracts.py."""
from __future__ import annotations

import json
from pathlib import Path

from services.core.contracts import RECORDS, json_schema

SCHEMA_DIR = Path(__file__).with_name("schemas")


def rendered_schemas() -> dict[str, str]:
    return {f"{name}.json": json.dumps(json_schema(cls), indent=2, sort_keys=True) + "\n"
            for name, cls in RECORDS.items()}


def write_schemas() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    paths = []
    for filename, text in rendered_schemas().items():
        path = SCHEMA_DIR / filename
        path.write_text(text)
        paths.append(path)
    return paths
