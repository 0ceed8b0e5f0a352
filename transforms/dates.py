"""Publication dates: when a page was published, with time and zone, and the days it mentions."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_tz
from functools import cached_property, lru_cache, partial
from importlib import resources
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from lxml import html as lxml_html

from transforms.failures import GuardedMap
from transforms.html_tree import page_tree
from transforms.records import (
    DAY,
    INFERRED_DAY,
    KIND_HTML,
    STAGE_DATES,
    TIME_NO_ZONE,
    TIME_WITH_ZONE,
    Article,
    Dateline,
    MentionedDay,
    Published,
)

# --- Tables and thresholds ------------------------------------------------------------------

# Oldest year taken as a publication year (older numbers are founding years, copyrights).
MIN_YEAR = 1990
# How many years back a yearless "Friday (March 29)" or dateline day may be placed.
MAX_YEARS_BACK = 30
# A day-only reading may be up to this far past the ceiling's UTC day (zones east of UTC).
DAY_CEILING_SLACK = timedelta(hours=14)
# How much visible text after the headline is searched for a byline date.
BYLINE_WINDOW_CHARS = 400
# How many lines at the top of a text capture are searched for a dated line.
CAPTURE_TOP_LINES = 40
# Longer lines are sentences: a date in one is an event's, not the page's ('in March 2002').
MAX_DATE_LINE_CHARS = 100
# How many text nodes after the headline are read for a byline date.
BYLINE_NODES = 60
# How far into the body a "Friday (March 29)" is taken as the story's own day (the lede).
LEDE_CHARS = 600
# How far before or after a date a time of day may be written ("11:25 PM - 10 Jul 2020").
TIME_WINDOW_CHARS = 24

# Words that tie a weekday to the past or future ("last Friday", "next Monday").
BEFORE_WORDS = ("last", "past", "previous")
AFTER_WORDS = ("next", "coming")
PREPOSITIONS = ("on", "late", "early", "since", "until", "till", "by", "from", "last", "next",
                "this", "coming", "past", "previous", "before", "after")
# Verbs of a reported past event: kept in a mention's phrase ("said Tuesday"), and they make a
# yearless "Friday (March 29)" the story's own day.
REPORTING_VERBS = ("said", "says", "reported", "reports", "announced", "told", "added", "stated",
                   "confirmed", "warned", "declared", "claimed", "revealed", "held", "met")
NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7}

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}
# Month names of the European languages common on news sites (Dutch, German, French,
# Spanish, Portuguese, Italian): visible dates on pages without machine-readable ones.
FOREIGN_MONTHS = {
    "januari": 1, "februari": 2, "maart": 3, "mei": 5, "juni": 6, "juli": 7, "augustus": 8,
    "oktober": 10, "januar": 1, "februar": 2, "märz": 3, "dezember": 12, "janvier": 1,
    "février": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "août": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "enero": 1, "febrero": 2,
    "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8, "septiembre": 9,
    "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12, "janeiro": 1,
    "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "dezembro": 12, "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5,
    "giugno": 6, "luglio": 7, "settembre": 9, "ottobre": 10, "dicembre": 12,
}
ALL_MONTHS = {**FOREIGN_MONTHS, **MONTHS}
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
}
# Zone abbreviations read the same way whatever the publisher's country. Ambiguous ones
# (IST, CST, BST, AST) are first tried against the publisher's own zone; these are the
# fallbacks when it does not use them: the commonest meaning in English-language news.
ABBREVIATION_ZONES = {
    "UTC": "UTC", "GMT": "UTC", "Z": "UTC",
    "ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
    "CT": "America/Chicago", "CST": "America/Chicago", "CDT": "America/Chicago",
    "MT": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
    "PT": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "KST": "Asia/Seoul", "JST": "Asia/Tokyo", "HKT": "Asia/Hong_Kong", "SGT": "Asia/Singapore",
    "PHT": "Asia/Manila", "WIB": "Asia/Jakarta", "ICT": "Asia/Bangkok", "PKT": "Asia/Karachi",
    "IST": "Asia/Kolkata", "BST": "Europe/London", "WET": "Europe/Lisbon",
    "CET": "Europe/Paris", "CEST": "Europe/Paris", "EET": "Europe/Athens", "EEST": "Europe/Athens",
    "MSK": "Europe/Moscow", "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
    "ACST": "Australia/Adelaide", "AWST": "Australia/Perth", "NZST": "Pacific/Auckland",
    "NZDT": "Pacific/Auckland",
}
# Generic names that a zone's tzname() never returns but that mean that zone.
GENERIC_ABBREVIATIONS = {
    "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}
# Machine-readable publication dates, best first: (evidence, meta attribute value).
PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "og:published_time",
    "article:published", "datepublished", "pubdate", "publishdate", "publish-date",
    "publish_date", "published_time", "date_published", "parsely-pub-date", "sailthru.date",
    "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date", "dc.date.created", "date",
    "bt:pubdate", "cxenseparse:recs:publishtime", "citation_publication_date", "uploaddate",
    "datecreated", "og:pubdate", "pub_date", "publication_date", "original-publish-date",
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "lastmod")
JSON_LD_PUBLISHED = ("datePublished", "dateCreated", "uploadDate")
# Labels of visible date lines: published ones are preferred over updated ones.
# Labels of visible date lines: published ones are preferred over updated ones. A label may
# be glued to the word before it in text captures ("New Delhi, IndiaUpdated: ...").
_LABEL_START = r"(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"
PUBLISHED_LABEL = re.compile(
    _LABEL_START + r"(?i:published|posted|first\s+published|publish\s+date|released|created)\b"
)
UPDATED_LABEL = re.compile(_LABEL_START + r"(?i:updated|modified|last\s+updated|edited)\b")

# --- Publisher defaults ---------------------------------------------------------------------


@dataclass(frozen=True)
class Locale:
    """What a publisher's bare dates and times mean."""

    country: str | None = None
    zone: str | None = None  # IANA name
    utc_offset: str | None = None  # fallback when the zone database lacks ``zone``
    day_first: bool = False


@dataclass(frozen=True)
class PublisherRule:
    names: tuple[str, ...]
    hosts: tuple[str, ...]
    locale: Locale


@dataclass(frozen=True)
class PublisherTable:
    """Publisher name/host patterns -> default zone, country and date order."""

    publishers: tuple[PublisherRule, ...] = ()
    countries: tuple[tuple[str, Locale], ...] = ()
    tlds: tuple[tuple[str, str], ...] = ()  # country-code domain -> country

    def locale(self, publisher: str | None, url: str | None) -> Locale:
        """The defaults for a page: the first rule naming its publisher or host (or a domain
        the host is under), then its country domain."""
        host = (urlsplit(url).hostname or "").lower() if url else ""
        found = [self._rule_by_name.get(_name_key(publisher))] if publisher else []
        labels = host.split(".") if host else []
        found += [self._rule_by_host.get(".".join(labels[i:])) for i in range(len(labels))]
        hits = [hit for hit in found if hit is not None]
        if hits:
            return min(hits, key=lambda hit: hit[0])[1]
        if host:
            country = self._country_by_tld.get(labels[-1])
            if country:
                return dict(self.countries)[country]
        return Locale()

    def _first_rules(self, field: str) -> dict[str, tuple[int, Locale]]:
        """Each value of the rules' ``field`` (names or hosts) -> (index, locale) of the first
        rule that lists it."""
        index: dict[str, tuple[int, Locale]] = {}
        for i, rule in enumerate(self.publishers):
            for value in getattr(rule, field):
                index.setdefault(value, (i, rule.locale))
        return index

    @cached_property
    def _rule_by_name(self) -> dict[str, tuple[int, Locale]]:
        return self._first_rules("names")

    @cached_property
    def _rule_by_host(self) -> dict[str, tuple[int, Locale]]:
        return self._first_rules("hosts")

    @cached_property
    def _country_by_tld(self) -> dict[str, str]:
        return dict(self.tlds)


def _name_key(name: str) -> str:
    name = re.sub(r"\s+", " ", name.strip().lower())
    return name[4:] if name.startswith("the ") else name


def load_publishers(path: str | None = None) -> PublisherTable:
    """The publisher defaults table: ``path``, or the one packaged with newsbeam."""
    if path is None:
        raw = resources.files("transforms").joinpath("data/publishers.toml").read_text("utf-8")
    else:
        with FileSystems.open(path) as fh:  # a local path, gs://, ...
            raw = fh.read().decode("utf-8")
    table = tomllib.loads(raw)
    countries: dict[str, Locale] = {}
    tlds: list[tuple[str, str]] = []
    for code, spec in table.get("country", {}).items():
        countries[code] = Locale(
            country=code,
            zone=spec.get("zone"),
            utc_offset=spec.get("utc_offset"),
            day_first=bool(spec.get("day_first", False)),
        )
        tlds.extend((tld.lower(), code) for tld in spec.get("tlds", ()))
    rules = []
    for spec in table.get("publisher", []):
        base = countries.get(spec.get("country", ""), Locale(country=spec.get("country")))
        locale = Locale(
            country=base.country,
            zone=spec.get("zone", base.zone if "utc_offset" not in spec else None),
            utc_offset=spec.get("utc_offset", base.utc_offset),
            day_first=bool(spec.get("day_first", base.day_first)),
        )
        rules.append(
            PublisherRule(
                names=tuple(_name_key(n) for n in spec.get("names", ())),
                hosts=tuple(h.lower() for h in spec.get("hosts", ())),
                locale=locale,
            )
        )
    return PublisherTable(tuple(rules), tuple(countries.items()), tuple(tlds))


# --- Reading one date -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A date as written: the day, maybe a time, maybe a zone (offset or abbreviation)."""

    day: date
    time: tuple[int, int] | None = None
    offset_minutes: int | None = None
    abbreviation: str | None = None
    inferred: bool = False


_ISO = re.compile(
    r"^\s*(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{1,2})(?:[.,]\d+)?)?"
    r"|T(\d{2})(\d{2})(?:\d{2}(?:[.,]\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?|[A-Z]{2,5})?\b"
)
_MONTH_RE = (
    "(?P<mon>" + "|".join(sorted(map(re.escape, ALL_MONTHS), key=len, reverse=True)) + r")\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
# Month-name dates take a two-digit year only with its apostrophe ("Mar 29, '24").
_YEAR = r"(?P<year>\d{4}|'\d{2})"
_HUMAN_DATES = (
    # March 29, 2024 / Mar. 29th 2024 / Sept 18, '24
    re.compile(rf"\b{_MONTH_RE}\s+(?P<day>\d{{1,2}}){_ORD},?\s+{_YEAR}(?![\d:])", re.I),
    # 29 March 2024 / 29th of March, 2024
    re.compile(
        rf"\b(?P<day>\d{{1,2}}){_ORD}\.?(?:\s+(?:of|de))?\s+{_MONTH_RE},?\s+(?:de\s+)?{_YEAR}(?![\d:])",
        re.I,
    ),
    # 2024-03-29 / 2024/03/29 / 2024.03.29
    re.compile(r"\b(?P<year>\d{4})[-/.](?P<a>\d{1,2})[-/.](?P<b>\d{1,2})\b(?![-/.]\d)"),
    # 29/03/2024, 03/29/24, 29.03.2024 (order from the publisher)
    re.compile(r"(?<![\d/.])(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<year>\d{4}|\d{2})\b(?![/.]\d)"),
)
_TIME = re.compile(
    r"(?<![\d:])(?:(?P<h>\d{1,2})(?:[:h.](?P<m>\d{2}))(?::\d{2})?\s*(?P<ampm>[ap]\.?\s?m\b\.?)?"
    r"|(?P<h2>\d{1,2})\s*(?P<ampm2>[ap]\.?\s?m\b\.?)"
    r"|(?P<word>\b(?:12\s+)?(?:noon|midnight)\b))",
    re.I,
)
_ZONE_AFTER = re.compile(
    r"^\s*\(?(?:(?P<gmt>GMT|UTC)\s*(?P<sign>[+-])\s*(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?"
    r"|(?P<num>[+-]\d{2}:?\d{2})|(?P<abbr>[A-Z]{2,5})\b)\)?"
)


def _year(text: str, ceiling_year: int) -> int:
    digits = text.lstrip("'")
    if len(digits) == 4:
        return int(digits)
    # Two-digit years: this century unless that would be after the ceiling.
    year = 2000 + int(digits)
    return year if year <= ceiling_year else year - 100


def _offset_minutes(text: str) -> int | None:
    if text == "Z":
        return 0
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", text)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    return -minutes if m.group(1) == "-" else minutes


@lru_cache(maxsize=4096)
def parse_machine(value: str) -> Reading | None:
    """ISO 8601 ('2024-03-26T19:20:00+09:00', '20201123T11:02:35Z') or RFC 2822 values."""
    m = _ISO.match(value)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        try:
            day = date(y, mo, d)
        except ValueError:
            return None
        hour = m.group(4) or m.group(7)
        minute = m.group(5) or m.group(8)
        if hour is None:
            return Reading(day)
        if int(hour) > 23 or int(minute) > 59:
            return None
        zone = m.group(9)
        offset = _offset_minutes(zone) if zone else None
        abbreviation = zone if zone and offset is None and zone in ABBREVIATION_ZONES else None
        return Reading(day, (int(hour), int(minute)), offset, abbreviation)
    parts = parsedate_tz(value) if re.search(r"[A-Za-z]{3},?\s+\d", value) else None
    if parts and parts[0] >= MIN_YEAR:
        try:
            day = date(parts[0], parts[1], parts[2])
        except ValueError:
            return None
        offset = parts[9] // 60 if parts[9] is not None else None
        return Reading(day, (parts[3], parts[4]), offset)
    return None


def _time_near(text: str, start: int, end: int) -> tuple[tuple[int, int] | None, int]:
    """A time of day written just after (or else just before) a date, and where it ends."""
    after = text[end : end + TIME_WINDOW_CHARS]
    m = _TIME.search(after)
    if m and not re.search(r"[A-Za-z]{4,}", after[: m.start()]):
        return _clock(m), end + m.end()
    before = text[max(0, start - TIME_WINDOW_CHARS) : start]
    for m in _TIME.finditer(before):
        if not re.search(r"[A-Za-z]{4,}", before[m.end() :]):
            return _clock(m), end
    return None, end


def _clock(m: re.Match) -> tuple[int, int] | None:
    if m.group("word"):
        return (12, 0) if "noon" in m.group("word").lower() else (0, 0)
    hour = int(m.group("h") or m.group("h2"))
    minute = int(m.group("m") or 0)
    ampm = (m.group("ampm") or m.group("ampm2") or "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        # 12 AM is midnight, 12 PM is noon.
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def _zone_after(text: str, pos: int) -> tuple[int | None, str | None]:
    m = _ZONE_AFTER.match(text[pos : pos + 16])
    if not m:
        return None, None
    if m.group("gmt"):
        minutes = int(m.group("oh")) * 60 + int(m.group("om") or 0)
        return (-minutes if m.group("sign") == "-" else minutes), None
    if m.group("num"):
        return _offset_minutes(m.group("num")), None
    abbr = m.group("abbr")
    if abbr in ABBREVIATION_ZONES:
        return (0, None) if ABBREVIATION_ZONES[abbr] == "UTC" else (None, abbr)
    return None, None


def parse_human(text: str, day_first: bool, ceiling_year: int) -> Reading | None:
    """The first full date written for people ('Mar 29, 2024 | 5:20 AM', '29/03/24 12 noon')."""
    best: tuple[int, Reading, int] | None = None
    for index, pattern in enumerate(_HUMAN_DATES):
        for m in pattern.finditer(text):
            groups = m.groupdict()
            year = _year(groups["year"], ceiling_year)
            if groups.get("mon"):
                month, day_num = ALL_MONTHS[groups["mon"].lower().rstrip(".")], int(groups["day"])
            elif index == 2:
                month, day_num = int(groups["a"]), int(groups["b"])
            else:
                a, b = int(groups["a"]), int(groups["b"])
                month, day_num = (b, a) if day_first or a > 12 else (a, b)
            try:
                day = date(year, month, day_num)
            except ValueError:
                continue
            if best is None or m.start() < best[0]:
                clock, zone_pos = _time_near(text, m.start(), m.end())
                offset, abbr = _zone_after(text, zone_pos) if clock else (None, None)
                best = (m.start(), Reading(day, clock, offset, abbr), m.end())
            break
    return best[1] if best else None


# --- Zones and the ceiling ------------------------------------------------------------------


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
    return _offset_minutes(fixed) if fixed else None


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


def _format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _published(
    reading: Reading, evidence: str, locale: Locale, ceiling: datetime
) -> Published | None:
    """The Published record for a reading, in the publisher's local terms; None past the ceiling."""
    if reading.day.year < MIN_YEAR:
        return None
    if reading.time is None:
        limit = (ceiling + DAY_CEILING_SLACK).date()
        if reading.day > limit:
            return None
        certainty = INFERRED_DAY if reading.inferred else DAY
        return Published(reading.day.isoformat(), None, None, None, certainty, evidence)
    local = datetime.combine(reading.day, datetime.min.time()).replace(
        hour=reading.time[0], minute=reading.time[1]
    )
    offset = reading.offset_minutes
    if offset is None and reading.abbreviation:
        offset = _abbreviation_offset(reading.abbreviation, local, locale)
    if offset is None:
        # A bare time: the publisher's default zone, when the table knows it.
        offset = _offset_in(locale.zone, locale.utc_offset, local)
    elif offset == 0 and locale.zone and locale.zone != "UTC":
        # A CMS stamp in UTC: the publisher dated the story in its own zone.
        instant = local.replace(tzinfo=UTC)
        zone = _zone(locale.zone)
        if zone is not None:
            local = instant.astimezone(zone).replace(tzinfo=None)
            offset = _offset_in(locale.zone, None, local)
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
        _format_offset(offset),
        int(instant.timestamp() * 1000),
        TIME_WITH_ZONE,
        evidence,
    )


def _ceiling(fetched_at: str | None, reference: datetime) -> datetime:
    moment = reference
    if fetched_at:
        try:
            moment = datetime.fromisoformat(fetched_at.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = reference
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- Where pages keep their dates -----------------------------------------------------------

Candidate = tuple[str, Reading | None]


def _json_ld_dates(tree) -> Iterator[tuple[str, str, bool]]:
    """(key, value, is_article) for each date in the page's JSON-LD, in document order."""
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        raw = script.text or ""
        try:
            data = json.loads(raw)
        except ValueError:
            for key, value in re.findall(r'"(date\w+|uploadDate)"\s*:\s*"([^"]+)"', raw):
                yield key, value, False
            continue
        stack = [data]
        while stack:
            node = stack.pop(0)
            if isinstance(node, list):
                stack[:0] = node
            elif isinstance(node, dict):
                kind = node.get("@type", "")
                kinds = kind if isinstance(kind, list) else [kind]
                is_article = any(
                    isinstance(k, str) and (k.endswith("Article") or k in ("BlogPosting", "Report"))
                    for k in kinds
                )
                for key, value in node.items():
                    if isinstance(value, str) and key.startswith(("date", "upload")):
                        yield key, value, is_article
                    elif isinstance(value, dict | list):
                        stack.append(value)


def _declared_url(tree) -> str | None:
    """The page's own address (canonical link or og:url), for pages that come without one."""
    for el in tree.iterfind(".//link[@rel='canonical']"):
        if el.get("href", "").startswith("http"):
            return el.get("href")
    for el in tree.iterfind(".//meta[@property='og:url']"):
        if el.get("content", "").startswith("http"):
            return el.get("content")
    return None


def _headline(tree):
    """The element holding the headline: the heading the <title> repeats, else the first h1."""
    title = re.sub(r"\s+", " ", tree.findtext(".//title") or "").strip().lower()
    first_h1 = None
    for el in tree.iter("h1", "h2", "h3"):
        text = re.sub(r"\s+", " ", el.text_content()).strip().lower()
        if el.tag == "h1" and first_h1 is None:
            first_h1 = el
        if len(text) > 15 and title and text in title:
            return el
    return first_h1


_FOLLOWING_TEXT = lxml_html.etree.XPath(f"following::text()[position() <= {BYLINE_NODES}]")


def _after(el, limit: int) -> list[str]:
    """The lines of visible text that follow an element, up to ``limit`` characters."""
    lines, total = [], 0
    for piece in _FOLLOWING_TEXT(el):
        piece = piece.strip()
        if piece:
            lines.append(piece)
            total += len(piece)
            if total >= limit:
                break
    return lines


def _html_candidates(tree, day_first: bool, ceiling_year: int) -> Iterator[Candidate]:
    """Readings from an HTML page, best evidence first (lazily: later ones cost more)."""
    ld = list(_json_ld_dates(tree))
    for key in JSON_LD_PUBLISHED:
        for want_article in (True, False):
            for k, value, is_article in ld:
                if k == key and is_article == want_article:
                    yield f"json-ld:{key}", parse_machine(value)
    metas: dict[str, str] = {}
    for meta in tree.iterfind(".//meta"):
        content = meta.get("content") or meta.get("datetime")
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            name = (meta.get(attr) or "").strip().lower()
            if name and name not in metas:
                metas[name] = content.strip()
    for name in PUBLISHED_META:
        if name in metas:
            yield f"meta:{name}", parse_machine(metas[name]) or parse_human(
                metas[name], day_first, ceiling_year
            )
    for el in tree.iterfind(".//*[@itemprop='datePublished']"):
        value = el.get("datetime") or el.get("content") or el.text_content()
        yield "itemprop:datePublished", parse_machine(value) or parse_human(
            value, day_first, ceiling_year
        )
    for el in tree.iterfind(".//time[@datetime]"):
        marks = f"{el.get('class', '')} {el.get('itemprop', '')} {el.get('pubdate', '')}".lower()
        if "publish" in marks or "created" in marks:
            yield "time:published", parse_machine(el.get("datetime"))
    for script in tree.xpath(".//script|.//style|.//noscript"):
        script.drop_tree()
    heading = _headline(tree)
    if heading is not None:
        yield from _line_candidates(_after(heading, BYLINE_WINDOW_CHARS), "byline", day_first,
                                    ceiling_year)
    for el in tree.iterfind(".//time[@datetime]"):
        yield "time:datetime", parse_machine(el.get("datetime"))
    for el in tree.xpath("(.//*[@data-time-ms or @data-timestamp or @data-time])[1]"):
        value = el.get("data-time-ms") or el.get("data-timestamp") or el.get("data-time")
        yield "attr:data-time", _epoch(value)
    for name in MODIFIED_META:
        if name in metas:
            yield f"meta:{name}", parse_machine(metas[name])
    yield "url:declared", _url_reading(_declared_url(tree))


def _epoch(value: str | None) -> Reading | None:
    if not value or not value.isdigit() or len(value) not in (10, 13):
        return None
    moment = datetime.fromtimestamp(int(value[:10]), tz=UTC)
    return Reading(moment.date(), (moment.hour, moment.minute), 0)


def _line_candidates(
    lines: list[str] | tuple[str, ...], where: str, day_first: bool, ceiling_year: int
) -> Iterator[Candidate]:
    """Dated lines: 'Published' ones first, then plain dated lines, then 'Updated' ones."""
    published, plain, updated = [], [], []
    for line in lines:
        if len(line) > MAX_DATE_LINE_CHARS:
            continue
        reading = parse_human(line, day_first, ceiling_year)
        if reading is None:
            continue
        if PUBLISHED_LABEL.search(line):
            published.append((f"{where}:Published", reading))
        elif UPDATED_LABEL.search(line):
            updated.append((f"{where}:Updated", reading))
        elif re.match(r"\s*By\b", line):
            plain.append((f"{where}:byline", reading))
        else:
            plain.append((f"{where}:date", reading))
    yield from published
    yield from plain
    yield from updated


_URL_DATE = re.compile(
    r"/(?P<y>(?:19|20)\d{2})[/-](?P<m>\d{1,2})[/-](?P<d>\d{1,2})(?=[/_-]|\.\w+$|$)"
    r"|/(?P<y2>(?:19|20)\d{2})(?P<m2>\d{2})(?P<d2>\d{2})(?=[/_.-]|$)"
)


def _url_reading(url: str | None) -> Reading | None:
    if not url:
        return None
    m = _URL_DATE.search(urlsplit(url).path)
    if not m:
        return None
    y, mo, d = (m.group("y"), m.group("m"), m.group("d")) if m.group("y") else (
        m.group("y2"), m.group("m2"), m.group("d2"))
    try:
        return Reading(date(int(y), int(mo), int(d)))
    except ValueError:
        return None


_WEEKDAY_DAY = re.compile(
    r"\b(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s*[,(]?\s*"
    rf"{_MONTH_RE}\s+(?P<day>\d{{1,2}}){_ORD}\)?(?!,?\s*\d)",
    re.I,
)
_REPORTED_BEFORE = re.compile(
    r"\b(?:" + "|".join(REPORTING_VERBS) + r")\b(?:\s+\S+){0,2}?\s*$", re.I
)
_DATELINE_DAY = re.compile(rf"{_MONTH_RE}\s*(?P<day>\d{{1,2}})(?:,?\s*(?P<year>\d{{4}}))?", re.I)


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


def _inferred_candidates(
    dateline: Dateline | None, text: str, ceiling: date
) -> Iterator[Candidate]:
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
                found = _latest_year(month, day_num, ceiling, None)
                yield "dateline", Reading(found, inferred=True) if found else None
    for m in _WEEKDAY_DAY.finditer(text[:LEDE_CHARS]):
        # Only a reported day is the story's own ("KCNA reported on Friday (March 29)"); a
        # bare one may be an announced future event ("tickets go on sale Friday, Dec. 6").
        if not _REPORTED_BEFORE.search(text[max(0, m.start() - 40) : m.start()]):
            continue
        month, day_num = ALL_MONTHS[m.group("mon").lower().rstrip(".")], int(m.group("day"))
        found = _latest_year(month, day_num, ceiling, WEEKDAYS[m.group("wd").lower()])
        yield "text:weekday", Reading(found, inferred=True) if found else None
        break


def _candidates(
    article: Article, tree, locale: Locale, ceiling: datetime
) -> Iterator[Candidate]:
    day_first, year = locale.day_first, ceiling.year
    if tree is not None:
        yield from _html_candidates(tree, day_first, year)
        yield from _line_candidates(article.header, "header", day_first, year)
    else:
        yield from _line_candidates(article.header, "header", day_first, year)
        top = (article.document or "").lstrip().split("\n", CAPTURE_TOP_LINES)
        yield from _line_candidates(top[:CAPTURE_TOP_LINES], "capture", day_first, year)
    yield "url", _url_reading(article.url)
    yield from _inferred_candidates(article.dateline, article.text, ceiling.date())


def find_published(
    article: Article, reference: datetime, publishers: PublisherTable
) -> Published | None:
    """When the page was published, from the best evidence it offers; None if it gives none."""
    ceiling = _ceiling(article.fetched_at, reference)
    tree = None
    if article.kind == KIND_HTML and article.document:
        tree = page_tree(article.document)  # the tree extraction parsed, for the same page
    url = article.url or (_declared_url(tree) if tree is not None else None)
    locale = publishers.locale(article.publisher, url)
    for evidence, reading in _candidates(article, tree, locale, ceiling):
        if reading is None:
            continue
        published = _published(reading, evidence, locale, ceiling)
        if published is not None:
            return published
    return None


# --- Days mentioned in the text -------------------------------------------------------------

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


# --- The stage ------------------------------------------------------------------------------


def apply_dates(article: Article, reference: datetime, publishers: PublisherTable) -> Article:
    """The article with its publication date and mentioned days; the raw page is dropped."""
    published = find_published(article, reference, publishers)
    days = mentioned_days(article.text, published) if published else ()
    return replace(article, published=published, mentioned_days=days, document=None)


class NormalizeDates(beam.PTransform):
    """Date each article and resolve the days it mentions; failures go to dead letters."""

    def __init__(self, reference_time: datetime, publishers_path: str | None = None):
        super().__init__()
        self._reference_time = reference_time
        self._publishers = load_publishers(publishers_path)

    def expand(self, articles):
        return articles | GuardedMap(
            STAGE_DATES,
            partial(apply_dates, reference=self._reference_time, publishers=self._publishers),
        )
