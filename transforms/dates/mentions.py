"""Days mentioned in the text: weekdays and relative days, resolved against the publication day."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from transforms.dates.tables import (
    AFTER_WORDS,
    BEFORE_WORDS,
    NUMBER_WORDS,
    PREPOSITIONS,
    REPORTING_VERBS,
    WEEKDAYS,
)
from transforms.records import MentionedDay, Published

_WEEKDAY_MENTION = re.compile(
    r"(?:(?P<lead>(?:\b[\w'\u2019-]+\s+){0,2}?)"
    r"(?P<mod>\b(?i:" + "|".join(PREPOSITIONS) + r")(?:\s+(?:on|coming))?\s+)?)"
    r"\b(?P<wd>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b(?!\s*[,(]?\s*"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d)"
)
_WEEKDAY_NAME = re.compile(r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
# A weekday mention starts at most this many words before the weekday (two words, then a
# preposition phrase of up to two); the scan looks that far back, plus one partial word.
MENTION_LEAD_WORDS = 5
MENTION_LEAD_CHARS = 120
_RELATIVE = re.compile(
    r"\b(?P<word>yesterday|today|tomorrow)\b"
    r"|\b(?P<n>a|one|two|three|four|five|six|seven|\d)\s+days?\s+(?P<dir>after|before|ago|earlier|later)\b",
    re.I,
)


def _weekday_phrase(m: re.Match) -> tuple[str, str]:
    """The phrase as written and how it points ('before', 'after' or 'on_or_before')."""
    wd = m.group("wd")
    mod = (m.group("mod") or "").strip()
    lead_words = (m.group("lead") or "").split()
    mod_first = mod.split()[0].lower() if mod else ""
    if mod_first in BEFORE_WORDS:
        return f"{mod} {wd}", "before"
    if mod_first in AFTER_WORDS or mod.lower() == "this coming":
        return f"{mod} {wd}", "after"
    if mod:
        verb = lead_words[-1] if lead_words and lead_words[-1].lower() in REPORTING_VERBS else ""
        return " ".join(p for p in (verb, mod, wd) if p), "on_or_before"
    if lead_words and lead_words[-1].lower() in REPORTING_VERBS:
        return f"{lead_words[-1]} {wd}", "on_or_before"
    words = [w for w in lead_words if re.fullmatch(r"[A-Za-z'\u2019-]+", w)]
    return " ".join([*words[-2:], wd]), "on_or_before"


def _lead_start(text: str, end: int) -> int:
    """A position at least MENTION_LEAD_WORDS whole words before ``end`` (or 0)."""
    span = MENTION_LEAD_CHARS
    while True:
        start = max(0, end - span)
        if start == 0 or len(text[start:end].split()) > MENTION_LEAD_WORDS:
            return start
        span *= 2


def _weekday_mentions(text: str) -> Iterator[re.Match]:
    """``_WEEKDAY_MENTION.finditer(text)``, but trying it only just before each weekday name:
    the pattern's leading words would otherwise be tried at every position of the text."""
    searched_to = 0
    for name in _WEEKDAY_NAME.finditer(text):
        if name.start() < searched_to:
            continue
        m = _WEEKDAY_MENTION.search(text, max(searched_to, _lead_start(text, name.start())))
        if m is None:
            return
        searched_to = m.end()
        yield m


def mentioned_days(text: str, published: Published) -> tuple[MentionedDay, ...]:
    """Weekdays and relative days in the text, resolved against the publication day."""
    pub = date.fromisoformat(published.date)
    found: list[tuple[int, MentionedDay]] = []
    for m in _weekday_mentions(text):
        phrase, direction = _weekday_phrase(m)
        back = (pub.weekday() - WEEKDAYS[m.group("wd").lower()]) % 7
        if direction == "before":
            back = back or 7
            day = pub - timedelta(days=back)
        elif direction == "after":
            day = pub + timedelta(days=(7 - back) % 7 or 7)
        else:
            day = pub - timedelta(days=back)
        found.append((m.start("wd"), MentionedDay(phrase, day.isoformat())))
    for m in _RELATIVE.finditer(text):
        if m.group("word"):
            shift = {"yesterday": -1, "today": 0, "tomorrow": 1}[m.group("word").lower()]
        else:
            n = m.group("n").lower()
            count = int(n) if n.isdigit() else NUMBER_WORDS[n]
            # "a day after X": the story's day is a day after X, so X is a day earlier.
            shift = -count if m.group("dir").lower() in ("after", "ago", "earlier") else count
        day = pub + timedelta(days=shift)
        found.append((m.start(), MentionedDay(m.group(0), day.isoformat())))
    found.sort(key=lambda item: item[0])
    return tuple(day for _, day in found)


