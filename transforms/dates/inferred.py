"""Yearless days: a dateline's 'March 30' or a lede's 'reported on Friday (March 29)'.

The year is the latest one that puts the day on or before the ceiling's day, where the
ceiling's day is its UTC day plus the slack of zones east of UTC (the same limit the other
day-only readings get): 'PYONGYANG, March 30 (KCNA) --' fetched at 08:00 on 30 March in
Pyongyang (23:00 UTC on the 29th) is this year's 30 March, not last year's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from transforms.dates.parsing import MONTH_RE, ORD, Reading
from transforms.dates.structured import Candidate
from transforms.dates.tables import (
    ALL_MONTHS,
    LEDE_CHARS,
    MAX_YEARS_BACK,
    REPORTING_VERBS,
    WEEKDAYS,
)
from transforms.dates.zones import day_limit
from transforms.records import Dateline

_WEEKDAY_DAY = re.compile(
    r"\b(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s*[,(]?\s*"
    rf"{MONTH_RE}\s+(?P<day>\d{{1,2}}){ORD}\)?(?!,?\s*\d)",
    re.I,
)
_REPORTED_BEFORE = re.compile(
    r"\b(?:" + "|".join(REPORTING_VERBS) + r")\b(?:\s+\S+){0,2}?\s*$", re.I
)
_DATELINE_DAY = re.compile(rf"{MONTH_RE}\s*(?P<day>\d{{1,2}})(?:,?\s*(?P<year>\d{{4}}))?", re.I)


def _latest_year(month: int, day_num: int, ceiling: date, weekday: int | None) -> date | None:
    """The latest date with this month and day (and weekday) not after the ceiling."""
    for year in range(ceiling.year, ceiling.year - MAX_YEARS_BACK, -1):
        try:
            candidate = date(year, month, day_num)
        except ValueError:
            continue
        if candidate <= ceiling and (weekday is None or candidate.weekday() == weekday):
            return candidate
    return None


def inferred_candidates(
    dateline: Dateline | None, text: str, ceiling: datetime
) -> Iterator[Candidate]:
    """Yearless days of the dateline and of a reported weekday in the lede."""
    limit = day_limit(ceiling)
    if dateline is not None:
        m = _DATELINE_DAY.search(dateline.raw)
        if m:
            month, day_num = ALL_MONTHS[m.group("mon").lower().rstrip(".")], int(m.group("day"))
            if m.group("year"):
                try:
                    yield "dateline", Reading(date(int(m.group("year")), month, day_num))
                except ValueError:
                    pass
            else:
                found = _latest_year(month, day_num, limit, None)
                yield "dateline", Reading(found, inferred=True) if found else None
    for m in _WEEKDAY_DAY.finditer(text[:LEDE_CHARS]):
        # Only a reported day is the story's own ("KCNA reported on Friday (March 29)"); a
        # bare one may be an announced future event ("tickets go on sale Friday, Dec. 6").
        if not _REPORTED_BEFORE.search(text[max(0, m.start() - 40) : m.start()]):
            continue
        month, day_num = ALL_MONTHS[m.group("mon").lower().rstrip(".")], int(m.group("day"))
        found = _latest_year(month, day_num, limit, WEEKDAYS[m.group("wd").lower()])
        yield "text:weekday", Reading(found, inferred=True) if found else None
        break


