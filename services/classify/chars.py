"""Hashed character n-grams of posts, computed for a whole batch at once with numpy.

Words the training data never had still share pieces with words it had ("donat" in donating,
donated, donations; "volunt" in volunteers), and a misspelt word keeps most of its n-grams, so
these features carry part of what the word features lose on unseen vocabulary.

A post's normalised text (``features.extract``'s: lower case, URLs and mentions as placeholders)
has its whitespace collapsed, is cut to MAX_CHARS characters and gets a space at each end; every
n-gram of its UTF-8 bytes, for n in [NMIN, NMAX], is hashed to one of 2**bits columns. The hash
is a fixed polynomial over the bytes with a final mix (no per-process salt as Python's ``hash``
has), so training and inference agree on any machine. Each occurrence has the value
1/sqrt(number of n-grams of the post), the same length scaling as the word features.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

NMIN, NMAX = 2, 5
MAX_CHARS = 256  # bounded cost per post, as features.MAX_TOKENS; the intent shows early in a post
_MUL = np.uint64(0x100000001B3)        # FNV-64 prime: the rolling polynomial
_MIX = np.uint64(0x9E3779B97F4A7C15)   # odd multiplier of the final mix
_SALT = np.uint64(0xD6E8FEB86659FD93)  # times n: n-grams of different lengths hash apart


def char_hashes(normalised: list[str], bits: int, nmin: int = NMIN, nmax: int = NMAX
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(post of each n-gram occurrence, its column in [0, 2**bits), the number of occurrences of
    each post). Occurrences are in post order and repeat: a linear score sums them."""
    docs = [" " + " ".join(t.split())[:MAX_CHARS] + " " for t in normalised]
    # NUL separates posts (split() removed any inside one); the tail lets every n start at every byte
    raw = "\x00".join(docs).encode("utf-8", "replace") + b"\x00" * nmax
    a = np.frombuffer(raw, dtype=np.uint8).astype(np.uint64)
    size = len(a) - nmax
    nul = a == 0
    nuls = np.cumsum(nul)  # NULs in a[:i+1]
    k = nmax - nmin + 1
    cols = np.empty((size, k), dtype=np.intp)
    ok = np.empty((size, k), dtype=bool)
    h = np.zeros(len(a), dtype=np.uint64)
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps: that is the hash
        for n in range(1, nmax + 1):
            h = h[:len(a) - n + 1] * _MUL + a[n - 1:]  # h[i]: the polynomial of a[i:i+n]
            if n < nmin:
                continue
            g = h[:size] + _SALT * np.uint64(n)
            g ^= g >> np.uint64(31)
            g *= _MIX
            g ^= g >> np.uint64(29)
            cols[:, n - nmin] = (g * _MIX) >> shift
            ok[:, n - nmin] = nuls[n - 1:n - 1 + size] - nuls[:size] + nul[:size] == 0  # no NUL in a[i:i+n]
    post = nuls[:size] - nul[:size]  # NULs before byte i
    rows = np.broadcast_to(post[:, None], (size, k))[ok]
    return rows, cols[ok], np.bincount(rows, minlength=len(normalised))


def char_scores(normalised: list[str], bits: int, weights: np.ndarray) -> np.ndarray:
    """(len(normalised), n_labels): the sum over each post's n-gram occurrences of their rows of
    ``weights`` ((2**bits, n_labels)), times the post's 1/sqrt(occurrences). Every post has an
    n-gram (the two spaces around an empty text make one), so no segment of the sum is empty."""
    if not normalised:
        return np.zeros((0, weights.shape[1]))
    rows, cols, count = char_hashes(normalised, bits)
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    return np.add.reduceat(weights[cols], starts, axis=0) / np.sqrt(count)[:, None]


def char_matrix(normalised: list[str], bits: int) -> csr_matrix:
    """The same values as a (len(normalised), 2**bits) sparse matrix (for training)."""
    rows, cols, count = char_hashes(normalised, bits)
    value = 1.0 / np.sqrt(np.maximum(count, 1))
    x = csr_matrix((value[rows], (rows, cols)), shape=(len(normalised), 1 << bits))
    x.sum_duplicates()
    return x
