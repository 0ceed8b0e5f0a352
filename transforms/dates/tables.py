"""Tables and thresholds of the dates stage, and the publisher defaults table."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from importlib import resources
from urllib.parse import urlsplit

from apache_beam.io.filesystems import FileSystems

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
    languages: tuple[tuple[str, str], ...] = ()  # language spoken in one country -> country

    def locale(self, publisher: str | None, url: str | None) -> Locale:
        """The defaults for a page: the first rule naming its publisher or host (or a domain
        the host is under), then its country domain."""
        return self.locale_and_source(publisher, url)[0]

    def locale_and_source(self, publisher: str | None, url: str | None) -> tuple[Locale, str]:
        """``locale()`` and what gave it: "publisher", "tld" or "" (nothing known)."""
        host = (urlsplit(url).hostname or "").lower() if url else ""
        found = [self._rule_by_name.get(name_key(publisher))] if publisher else []
        labels = host.split(".") if host else []
        found += [self._rule_by_host.get(".".join(labels[i:])) for i in range(len(labels))]
        hits = [hit for hit in found if hit is not None]
        if hits:
            return min(hits, key=lambda hit: hit[0])[1], "publisher"
        if host:
            country = self._country_by_tld.get(labels[-1])
            if country:
                return dict(self.countries)[country], "tld"
        return Locale(), ""

    def country(self, code: str) -> Locale | None:
        """The defaults of a country (ISO 3166 alpha-2, any case), if the table has it."""
        return self._country_by_code.get(code.upper())

    def language_country(self, language: str) -> Locale | None:
        """The country of a language that the table ties to one country ("de", "ja")."""
        code = self._country_by_language.get(language.lower())
        return self.country(code) if code else None

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

    @cached_property
    def _country_by_code(self) -> dict[str, Locale]:
        return dict(self.countries)

    @cached_property
    def _country_by_language(self) -> dict[str, str]:
        return dict(self.languages)


def name_key(name: str) -> str:
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
    languages: list[tuple[str, str]] = []
    for code, spec in table.get("country", {}).items():
        countries[code] = Locale(
            country=code,
            zone=spec.get("zone"),
            utc_offset=spec.get("utc_offset"),
            day_first=bool(spec.get("day_first", False)),
        )
        tlds.extend((tld.lower(), code) for tld in spec.get("tlds", ()))
        languages.extend((lang.lower(), code) for lang in spec.get("languages", ()))
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
                names=tuple(name_key(n) for n in spec.get("names", ())),
                hosts=tuple(h.lower() for h in spec.get("hosts", ())),
                locale=locale,
            )
        )
    return PublisherTable(tuple(rules), tuple(countries.items()), tuple(tlds), tuple(languages))


