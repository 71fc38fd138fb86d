"""Features of a post for the intent model: sparse lexical names (``w:`` words, ``b:`` bigrams,
``h:`` hashtags, ``f:``/``f2:`` first words) and linguistic cue names (``r:...``).

They are computed by the native core (``services/classify/native``), which inference and
training (``training/``) both call, so both see the same features.
"""
from __future__ import annotations

from goalpost_classify_native import post_features


def extract(text: str) -> tuple[list[str], list[str]]:
    """(lexical feature names, cue feature names) of one post. Repeated words and bigrams are
    repeated (a term-frequency weight)."""
    return post_features(text or "")


def features(text: str) -> list[str]:
    """The distinct feature names of one post: lexical ones sorted, then cue ones."""
    lex, cue = extract(text)
    return sorted(set(lex)) + cue


def encode(lex: list[str], cue: list[str], vocab: dict, cue_value: float) -> tuple[list[int], list[float]]:
    """(column indices, values) of one post's sparse row, as the native scorer computes it.
    Lexical features share an L2-style norm over the ones the model knows (long posts get no
    extreme scores); cues carry ``cue_value`` whatever the length. Repeated words repeat their
    index (the matrix sums them)."""
    get = vocab.get
    idx = [i for i in map(get, lex) if i is not None]
    vals = [1.0 / len(idx) ** 0.5] * len(idx) if idx else []
    if cue_value:
        cidx = [i for i in map(get, cue) if i is not None]
        idx += cidx
        vals += [cue_value] * len(cidx)
    return idx, vals
