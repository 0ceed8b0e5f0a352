"""The tune/held split of every dev set: tune rules on one part, report the other.

An item's part is fixed by a salted hash of its key (the dev set's id, file name or
first text), so it never depends on order, and the salt keeps it independent of the
hashes the dev sets themselves were drawn with (trafilatura's set is ``sha1(url) % 3 == 0``).
About a third of each set is held back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

SALT = "newsbeam-split-1:"
HELD, TUNE = "held", "tune"
PARTS = (TUNE, HELD)

T = TypeVar("T")


def part(key: str) -> str:
    """``"held"`` for about a third of keys, ``"tune"`` for the rest."""
    digest = hashlib.sha1((SALT + key).encode("utf-8")).hexdigest()
    return HELD if int(digest, 16) % 3 == 0 else TUNE


def split(items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    """Items by part: ``{"tune": [...], "held": [...]}``."""
    parts: dict[str, list[T]] = {TUNE: [], HELD: []}
    for item in items:
        parts[part(key(item))].append(item)
    return parts
