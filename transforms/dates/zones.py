"""Zones and the publisher's local day: from a reading to the Published record.

A stamp with an offset other than zero is the publisher's own local time. A stamp in UTC
('Z', '+00:00') and a bare time are placed in the publisher's zone, taken from the first of
these that knows it (``LocalHints``):

0. for a UTC stamp, a local time the page shows people ('November 8, 2023 at 11:30 p.m.'
   beside '2023-11-09T05:30:59Z' is -06:00): the page's own rendering, so it comes first;
1. the publisher table: the publisher's name or host, else the country of its domain;
2. the page's other stamps: an offset other than zero that the page writes elsewhere
   (a ``dateModified`` of '+02:00' next to a ``datePublished`` in UTC);
3. the page's locale: ``<html lang="pt-BR">``, ``og:locale``, else a language the table
   ties to one country (``de``, ``ja``; not English, Spanish or Portuguese);
4. for a UTC stamp only, a day the page shows people (the text of its microdata date, a
   dated line after the headline), else the date in its URL, when it is one day off the
   UTC day and some zone (UTC-12 to UTC+14) would make it that day: the day is that one,
   the time and offset are left unknown and the instant stays the UTC one (certainty DAY).

A zone found by steps 1-3 yields to the page itself: when the page shows the UTC day and
not the day that zone gives, the stamp stays in UTC ('day:shown').

The evidence string names the step: 'meta:article:published_time zone:publisher',
'... zone:shown-time', '... zone:page-offset', '... zone:lang:pt-BR', '... day:shown',
'... day:url'. ``instant`` is always the instant the stamp names, in UTC; only the local
day, time and offset depend on the zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from transforms.dates.parsing import MAX_OFFSET_MINUTES, Reading, offset_minutes
from transforms.dates.tables import (
    ABBREVIATION_ZONES,
    DAY_CEILING_SLACK,
    GENERIC_ABBREVIATIONS,
    MIN_YEAR,
    Locale,
)
from transforms.records import DAY, INFERRED_DAY, TIME_NO_ZONE, TIME_WITH_ZONE, Published

# Most minutes west of UTC any zone is (UTC-12); east is MAX_OFFSET_MINUTES (UTC+14).
MIN_OFFSET_MINUTES = -12 * 60


@dataclass(frozen=True)
class LocalHints:
    """What is known of the publisher's zone, strongest first (see the module docstring)."""

    locale: Locale = Locale()  # from the publisher table
    locale_source: str = ""  # "publisher", "tld" or "" when the table knows nothing
    page_offset: int | None = None  # a non-zero offset of the page's other stamps
    page_locale: Locale | None = None  # from the page's lang/og:locale or language
    page_locale_source: str = ""  # e.g. "lang:pt-BR", "language:de"
    url_day: date | None = None
    shown: Shown | None = None  # what the page shows people as its date (read when needed)


class Shown:
    """The days, and the local times (naive), that a page shows people as its date; read
    only when a UTC stamp needs them (``read`` gives both)."""

    def __init__(self, read: Callable[[], tuple[set[date], set[datetime]]]):
        self._read = read

    @cached_property
    def _both(self) -> tuple[frozenset[date], frozenset[datetime]]:
        days, times = self._read()
        return frozenset(days), frozenset(times)

    @property
    def days(self) -> frozenset[date]:
        return self._both[0]

    @property
    def times(self) -> frozenset[datetime]:
        return self._both[1]


_NOTHING_SHOWN = Shown(lambda: (set(), set()))


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _offset_in(zone_name: str | None, fixed: str | None, local: datetime) -> int | None:
    """Minutes east of UTC of a zone at a local time, or the table's fixed offset."""
    zone = _zone(zone_name) if zone_name else None
    if zone is not None:
        delta = local.replace(tzinfo=zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta is not None else None
    return offset_minutes(fixed) if fixed else None


def _abbreviation_offset(abbr: str, local: datetime, locale: Locale) -> int | None:
    # The publisher's own zone first: IST on an Indian site is India time, not Israel's.
    if locale.zone:
        zone = _zone(locale.zone)
        if zone is not None and (
            local.replace(tzinfo=zone).tzname() == abbr
            or GENERIC_ABBREVIATIONS.get(abbr) == locale.zone
        ):
            return _offset_in(locale.zone, locale.utc_offset, local)
    name = ABBREVIATION_ZONES.get(abbr)
    return _offset_in(name, None, local) if name else None


def format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def day_limit(ceiling: datetime) -> date:
    """The latest day a day-only reading may name: the ceiling's UTC day plus the slack for
    zones east of UTC (a page fetched at 08:00 in Seoul is dated that Seoul day)."""
    return (ceiling.astimezone(UTC) + DAY_CEILING_SLACK).date()


def _known_zone(hints: LocalHints) -> tuple[Locale | None, int | None, str]:
    """The publisher's zone: (locale with a zone, or None; fixed offset, or None; source)."""
    if hints.locale_source and (hints.locale.zone or hints.locale.utc_offset):
        return hints.locale, None, f"zone:{hints.locale_source}"
    if hints.page_offset is not None:
        return None, hints.page_offset, "zone:page-offset"
    page = hints.page_locale
    if page is not None and (page.zone or page.utc_offset):
        return page, None, f"zone:{hints.page_locale_source}"
    return None, None, ""


def _in_zone(instant: datetime, locale: Locale | None, fixed: int | None) -> datetime | None:
    """The instant as local wall-clock time (naive) in a zone or at a fixed offset."""
    if fixed is not None:
        return (instant + timedelta(minutes=fixed)).replace(tzinfo=None)
    zone = _zone(locale.zone) if locale and locale.zone else None
    if zone is not None:
        return instant.astimezone(zone).replace(tzinfo=None)
    fixed = offset_minutes(locale.utc_offset) if locale and locale.utc_offset else None
    if fixed is None:
        return None
    return (instant + timedelta(minutes=fixed)).replace(tzinfo=None)


def _shown_offset(shown: frozenset[datetime], utc: datetime) -> int | None:
    """The offset that turns a UTC stamp into a local time the page shows people
    ('November 8, 2023 at 11:30 p.m.' beside '2023-11-09T05:30:59Z': -06:00), if exactly
    one shown time is a real zone's quarter-hour offset away."""
    offsets = set()
    for moment in shown:
        minutes = int((moment - utc).total_seconds() // 60)
        if minutes % 15 == 0 and MIN_OFFSET_MINUTES <= minutes <= MAX_OFFSET_MINUTES:
            offsets.add(minutes)
    return offsets.pop() if len(offsets) == 1 else None


def _one_day_off_fits(day: date | None, instant: datetime) -> bool:
    """Whether some real zone puts the instant on ``day``, one day off its UTC day."""
    url_day = day
    if url_day is None or abs((url_day - instant.date()).days) != 1:
        return False
    earliest = (instant + timedelta(minutes=MIN_OFFSET_MINUTES)).date()
    latest = (instant + timedelta(minutes=MAX_OFFSET_MINUTES)).date()
    return earliest <= url_day <= latest


def published(
    reading: Reading, evidence: str, hints: LocalHints, ceiling: datetime
) -> Published | None:
    """The Published record for a reading, in the publisher's local terms; None past the
    ceiling or before MIN_YEAR."""
    if reading.day.year < MIN_YEAR:
        return None
    if reading.time is None:
        if reading.day > day_limit(ceiling):
            return None
        certainty = INFERRED_DAY if reading.inferred else DAY
        return Published(reading.day.isoformat(), None, None, None, certainty, evidence)
    local = datetime.combine(reading.day, datetime.min.time()).replace(
        hour=reading.time[0], minute=reading.time[1]
    )
    locale = hints.locale
    offset = reading.offset_minutes
    if offset is None and reading.abbreviation:
        offset = _abbreviation_offset(reading.abbreviation, local, locale)
    if offset is None:
        # A bare time: the publisher's zone, when something on or about the page knows it.
        known, fixed, source = _known_zone(hints)
        if fixed is not None:
            offset = fixed
        elif known is not None:
            offset = _offset_in(known.zone, known.utc_offset, local)
        if offset is not None:
            evidence = f"{evidence} {source}"
    elif offset == 0:
        # A CMS stamp in UTC: the publisher dated the story in its own zone.
        instant = local.replace(tzinfo=UTC)
        if instant > ceiling:
            return None
        if reading.time == (0, 0):
            # Midnight UTC to the minute is a day stored as a stamp, not a time of day.
            return Published(reading.day.isoformat(), None, None, None, DAY,
                             f"{evidence} day:midnight-utc")
        known, fixed, source = _known_zone(hints)
        page_shows = hints.shown or _NOTHING_SHOWN
        shown_offset = _shown_offset(page_shows.times, local)
        if shown_offset is not None:
            known, fixed, source = None, shown_offset, "zone:shown-time"
        moved = _in_zone(instant, known, fixed) if source else None
        utc_day = instant.date()
        shown = page_shows.days | ({hints.url_day} if hints.url_day else set())
        if moved is not None and moved.date() != utc_day and utc_day in shown and (
                moved.date() not in shown):
            # The page shows people the UTC day: it dates its stories in UTC.
            moved, evidence = None, f"{evidence} day:shown"
        elif moved is None and not source and utc_day not in shown:
            near = sorted(d for d in page_shows.days if _one_day_off_fits(d, instant))
            if len(near) == 1:
                return Published(near[0].isoformat(), None, None,
                                 int(instant.timestamp() * 1000), DAY, f"{evidence} day:shown")
        if moved is not None and not (known is not None and known.zone == "UTC"):
            local = moved
            offset = fixed if fixed is not None else _offset_in(
                known.zone, known.utc_offset, local) if known else None
            if offset is None:
                offset = int((moved - instant.replace(tzinfo=None)).total_seconds() // 60)
            evidence = f"{evidence} {source}"
        elif not source and utc_day not in page_shows.days and _one_day_off_fits(
                hints.url_day, instant):
            return Published(hints.url_day.isoformat(), None, None,
                             int(instant.timestamp() * 1000), DAY, f"{evidence} day:url")
    if offset is None:
        if local > (ceiling + DAY_CEILING_SLACK).replace(tzinfo=None):
            return None
        return Published(
            local.date().isoformat(), local.strftime("%H:%M"), None, None, TIME_NO_ZONE, evidence
        )
    instant = local.replace(tzinfo=timezone(timedelta(minutes=offset)))
    if instant > ceiling:
        return None
    return Published(
        local.date().isoformat(),
        local.strftime("%H:%M"),
        format_offset(offset),
        int(instant.timestamp() * 1000),
        TIME_WITH_ZONE,
        evidence,
    )


def ceiling_of(fetched_at: str | None, reference: datetime) -> datetime:
    """The latest instant a publication date may name: the fetch time, else the reference."""
    moment = reference
    if fetched_at:
        try:
            moment = datetime.fromisoformat(fetched_at.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = reference
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
