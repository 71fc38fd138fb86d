"""The training posts: data files written by the Goalpost project, in ``training/data/``.

Every ``*.tsv`` there is ``label<TAB>family<TAB>text`` or, for hand-written files without a
family column, ``label<TAB>text`` (family = the file's name). ``#`` starts a comment line and
``\\n`` inside a text is a newline. Nothing from ``shared/data`` (evaluation only) is read here.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from services.classify.model import INTENTS

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    family: str  # the kind of source a post imitates: the unit that cross-validation leaves out
    file: str


def read_tsv(path: str) -> list[Example]:
    name = os.path.splitext(os.path.basename(path))[0]
    rows = []
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) == 3:
                label, family, text = parts
            elif len(parts) == 2:
                (label, text), family = parts, name
            else:
                raise ValueError(f"{path}:{ln}: want 2 or 3 tab-separated fields")
            label = label.strip()
            if label not in INTENTS or not text.strip():
                raise ValueError(f"{path}:{ln}: bad line {line!r}")
            rows.append(Example(text.replace("\\n", "\n"), label, family.strip(), name))
    return rows


def load(data_dir: str = DATA_DIR) -> list[Example]:
    """Every example of every data file, in a fixed order (file name, then line)."""
    out: list[Example] = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.tsv"))):
        out.extend(read_tsv(path))
    return out
