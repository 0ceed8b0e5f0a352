"""Reading one date: cheap parsers for machine stamps and common human forms, then dateparser.

The cheap parsers (regular expressions, RFC 2822) read what most pages write, in about
20 microseconds. dateparser reads dates in any of its languages but costs a millisecond or
more a call even when told the language, so it is asked only about short lines the cheap
parsers found nothing in, with the page's language, and its answers are cached."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_tz
from functools import lru_cache

from transforms.dates.tables import ABBREVIATION_ZONES, ALL_MONTHS, MIN_YEAR, TIME_WINDOW_CHARS

# Offsets east or west of UTC that exist (UTC-12 to UTC+14); others are typing errors.
MAX_OFFSET_MINUTES = 14 * 60
# Lines longer than this are not given to dateparser (sentences, not date lines).
DATEPARSER_MAX_CHARS = 100
# The languages dateparser is asked to read (ISO 639-1); a page in another language (or
# one whose language is unknown) is read as English.
DATEPARSER_LANGUAGES = frozenset(
    ("en", "de", "fr", "es", "pt", "it", "nl", "ru", "uk", "pl", "cs", "sv", "da", "nb", "fi",
     "tr", "el", "hu", "ro", "zh", "ja", "ko", "vi", "id", "ar", "he", "hi")
)
# dateparser is asked only about lines with a year-like number and a letter: it is told to
# require a day, a month and a year, so other lines cannot give a date anyway.
_YEAR_NUMBER = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_LETTER = re.compile(r"[^\W\d_]")
_NUMBER = re.compile(r"\d+")
# Full-width punctuation glues a label to its date ("公開日：2024年3月26日"); dateparser
# reads the date only once they are apart.
_CJK_PUNCTUATION = str.maketrans({ch: " " for ch in "：，、。（）【】「」"})


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
MONTH_RE = (
    "(?P<mon>" + "|".join(sorted(map(re.escape, ALL_MONTHS), key=len, reverse=True)) + r")\.?"
)
ORD = r"(?:st|nd|rd|th)?"
# Month-name dates take a two-digit year only with its apostrophe ("Mar 29, '24").
_YEAR = r"(?P<year>\d{4}|'\d{2})"
_HUMAN_DATES = (
    # March 29, 2024 / Mar. 29th 2024 / Sept 18, '24
    re.compile(rf"\b{MONTH_RE}\s+(?P<day>\d{{1,2}}){ORD},?\s+{_YEAR}(?![\d:])", re.I),
    # 29 March 2024 / 29th of March, 2024
    re.compile(
        rf"\b(?P<day>\d{{1,2}}){ORD}\.?(?:\s+(?:of|de))?\s+{MONTH_RE},?\s+(?:de\s+)?{_YEAR}(?![\d:])",
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


def offset_minutes(text: str) -> int | None:
    """Minutes east of UTC of '+09:00', '-0430' or 'Z'; None for anything else, and for an
    offset no zone has ('+25:00', '+09:75'): such a stamp is read as having no zone."""
    if text == "Z":
        return 0
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", text)
    if not m:
        return None
    if int(m.group(3) or 0) > 59:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if minutes > MAX_OFFSET_MINUTES:
        return None
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
        offset = offset_minutes(zone) if zone else None
        abbreviation = zone if zone and offset is None and zone in ABBREVIATION_ZONES else None
        return Reading(day, (int(hour), int(minute)), offset, abbreviation)
    parts = parsedate_tz(value) if re.search(r"[A-Za-z]{3},?\s+\d", value) else None
    if parts and parts[0] >= MIN_YEAR:
        try:
            day = date(parts[0], parts[1], parts[2])
        except ValueError:
            return None
        offset = parts[9] // 60 if parts[9] is not None else None
        if offset is not None and abs(offset) > MAX_OFFSET_MINUTES:
            offset = None
        if not (0 <= parts[3] <= 23 and 0 <= parts[4] <= 59):
            return Reading(day)
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
        if minutes > MAX_OFFSET_MINUTES:
            return None, None
        return (-minutes if m.group("sign") == "-" else minutes), None
    if m.group("num"):
        return offset_minutes(m.group("num")), None
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
                # A dotted date is day-first wherever it is written ("3.11.2023").
                dotted = text[m.end("a")] == "."
                month, day_num = (b, a) if day_first or dotted or a > 12 else (a, b)
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


def parse_words(text: str, language: str | None, day_first: bool) -> Reading | None:
    """A date written in words in the page's language, read by dateparser ('26. März 2024',
    '2024년 3월 26일'); only for short lines, and only a full day, month and year."""
    if len(text) > DATEPARSER_MAX_CHARS or not _YEAR_NUMBER.search(text):
        return None
    if not _LETTER.search(text) or len(_NUMBER.findall(text)) < 2:
        # A full date in words still writes its day and its year in digits: a line with
        # one number ('© 2024 The Daily Example') is not asked about.
        return None
    lang = language if language in DATEPARSER_LANGUAGES else "en"
    return _dateparser_reading(" ".join(text.translate(_CJK_PUNCTUATION).split()), lang,
                               day_first)


@lru_cache(maxsize=8192)
def _dateparser_reading(text: str, language: str, day_first: bool) -> Reading | None:
    from dateparser.search import search_dates  # imported on first use: 0.3 s of start-up

    settings = {
        "REQUIRE_PARTS": ["day", "month", "year"],
        "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "DATE_ORDER": "DMY" if day_first else "MDY",
    }
    try:
        found = search_dates(text, languages=[language], settings=settings)
    except (ValueError, OverflowError, TypeError, LookupError):
        return None
    for phrase, moment in found or ():
        if moment.year < MIN_YEAR or not _YEAR_NUMBER.search(phrase):
            continue
        clock = (moment.hour, moment.minute) if _TIME.search(phrase) else None
        start = text.find(phrase)
        if clock is None and start >= 0:
            # A time written next to the date that dateparser left out ("26 марта 2024 г.,
            # 14:30": it requires a full date of every phrase it returns).
            clock, _ = _time_near(text, start, start + len(phrase))
        return Reading(moment.date(), clock)
    return None
