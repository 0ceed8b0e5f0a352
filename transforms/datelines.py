"""Datelines: where a story was filed from and which wire carried it ('SEOUL (Reuters) -')."""

from __future__ import annotations

import re
from dataclasses import replace

import apache_beam as beam

from transforms.failures import GuardedMap
from transforms.records import STAGE_DATELINES, Article, Dateline

# Wire services and state agencies as they sign copy, mapped to the name recorded.
# Matching ignores case and inner spaces ("( Reuters )").
AGENCIES = {
    "reuters": "Reuters",
    "ap": "AP",
    "afp": "AFP",
    "kcna": "KCNA",
    "yonhap": "Yonhap",
    "kyodo": "Kyodo",
    "xinhua": "Xinhua",
    "ani": "ANI",
    "pti": "PTI",
    "ians": "IANS",
    "uni": "UNI",
    "upi": "UPI",
    "dpa": "dpa",
    "efe": "EFE",
    "ansa": "ANSA",
    "tass": "TASS",
    "itar-tass": "ITAR-TASS",
    "ria novosti": "RIA Novosti",
    "interfax": "Interfax",
    "irna": "IRNA",
    "anadolu": "Anadolu",
    "antara": "Antara",
    "bernama": "Bernama",
    "aap": "AAP",
    "cna": "CNA",
    "kuna": "KUNA",
    "wam": "WAM",
    "spa": "SPA",
    "app": "APP",
    "bloomberg": "Bloomberg",
    "jiji": "Jiji",
    "jiji press": "Jiji Press",
    "nna": "NNA",
    "vna": "VNA",
    "pna": "PNA",
    "bss": "BSS",
    "rss": "RSS",
}

# Capitalised openings that are story labels, not places ("BREAKING:", "UPDATE 1 -").
NOT_PLACES = frozenset({
    "BREAKING", "BREAKING NEWS", "UPDATE", "UPDATED", "EXCLUSIVE", "ANALYSIS", "OPINION",
    "EDITORIAL", "COMMENTARY", "LIVE", "WATCH", "VIDEO", "PHOTOS", "FACTBOX", "EXPLAINER",
    "CORRECTION", "CORRECTED", "URGENT", "FLASH", "ALERT", "NOTE", "REFILE", "INSIGHT",
    "FEATURE", "INTERVIEW", "REVIEW", "FILE PHOTO", "ADVISORY", "DEVELOPING",
})
# How far into a text a dateline may start: a glued headline or a first line
# ("N. Korea ready to fire WASHINGTON--North Korea ...") comes before it in some feeds.
HEADLINE_PREFIX_CHARS = 160
MAX_PLACE_CHARS = 60
# Labels that follow a place in a page header ("New Delhi, Delhi, IndiaUpdated: ...").
HEADER_DATE_LABELS = r"(?:Last\s+)?(?:Updated|Published|Posted|First\s+published)\b"

_AGENCY_NAMES = "(?i:" + "|".join(
    sorted((re.escape(k).replace(r"\ ", r"\s+") for k in AGENCIES), key=len, reverse=True)
) + ")"
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# Separators after a dateline: hyphen (spaced), double hyphen, en/em dash, colon.
_SEP = r"(?:\s+-\s+|\s*--+\s*|\s*[\u2013\u2014]+\s*|:\s+)"
# A place component: capitalised words ("SEOUL", "Sacramento", "YOKOTA AIR BASE", "St. Louis").
_WORD = r"[A-Z][A-Za-z.'\u2019\-]*"
_COMPONENT = rf"{_WORD}(?:[ ]{_WORD}){{0,3}}"
_CAPS_WORD = r"[A-Z][A-Z.'\u2019\-]+"
_CAPS_COMPONENT = rf"{_CAPS_WORD}(?:[ ]{_CAPS_WORD}){{0,3}}"
_DATE_PART = rf"{_MONTH}\s*\d{{1,2}}(?:,?\s*\d{{4}})?"

# PLACE[/PLACE][, Region][, Month D] (AGENCY) [sep]  -- mixed-case places allowed with an agency.
_WITH_AGENCY = re.compile(
    rf"""(?P<raw>
        (?P<place>{_COMPONENT}(?:/{_COMPONENT})*(?:\s*,\s*(?!{_DATE_PART}){_COMPONENT}){{0,2}})
        (?:\s*,\s*(?P<date>{_DATE_PART}))?
        \s*\(\s*(?P<agency>{_AGENCY_NAMES})\s*\)
        (?:{_SEP}|\s+(?=[A-Z"\u201c']))
    )""",
    re.VERBOSE,
)
# PLACE[, Region][, Month D] sep  -- only an ALL-CAPS first component, so ordinary sentences
# ("Asked about it - he said") are not taken for datelines.
_CAPS_ONLY = re.compile(
    rf"""(?P<raw>
        (?P<place>{_CAPS_COMPONENT}(?:/{_CAPS_COMPONENT})*
            (?:\s*,\s*(?!{_DATE_PART}){_COMPONENT}){{0,2}})
        (?:\s*,\s*(?P<date>{_DATE_PART}))?
        {_SEP}
    )(?=\S)""",
    re.VERBOSE,
)
# AGENCY sep  -- "Reuters - ", "AFP - ".
_AGENCY_ONLY = re.compile(rf"(?P<raw>(?P<agency>{_AGENCY_NAMES}){_SEP})(?=\S)")
_TRAILING_CREDIT = re.compile(rf"\(\s*(?P<agency>{_AGENCY_NAMES})\s*\)[\s.]*$")
_HEADER_PLACE = re.compile(
    rf"^\s*(?P<place>{_COMPONENT}(?:\s*,\s*{_COMPONENT}){{0,3}}?)\s*(?={HEADER_DATE_LABELS})"
)
# Where a later dateline may start: a capital after a space or a line break.
_LATER_START = re.compile(r"(?<=\s)(?=[A-Z])")
_DASHED = re.compile(r"(?:--|[\u2013\u2014]|\s-\s)\s*$")


def agency_name(written: str) -> str | None:
    """The recorded name of an agency as written ('( Reuters )' -> 'Reuters'), or None."""
    key = re.sub(r"\s+", " ", written.strip(" ()").lower())
    return AGENCIES.get(key)


def _clean_place(place: str) -> str:
    place = re.sub(r"\s+", " ", place).strip()
    return re.sub(r"\s+,", ",", place)


def _match_at(text: str, pos: int) -> tuple[Dateline, int] | None:
    """A dateline starting exactly at ``pos``, with the offset just after it."""
    for pattern in (_WITH_AGENCY, _AGENCY_ONLY, _CAPS_ONLY):
        m = pattern.match(text, pos)
        if not m:
            continue
        groups = m.groupdict()
        place = groups.get("place")
        if place and (len(place) > MAX_PLACE_CHARS or place.split(",")[0].strip() in NOT_PLACES):
            continue
        agency = agency_name(groups["agency"]) if groups.get("agency") else None
        if pattern is _AGENCY_ONLY and agency is None:
            continue
        raw = m.group("raw").strip()
        return Dateline(_clean_place(place) if place else None, agency, raw), m.end()
    return None


def _header_dateline(header: tuple[str, ...]) -> Dateline | None:
    for line in header:
        m = _HEADER_PLACE.match(line)
        if m and len(m.group("place")) <= MAX_PLACE_CHARS:
            place = _clean_place(m.group("place"))
            return Dateline(place, None, place)
    return None


def find_dateline(
    text: str, header: tuple[str, ...] = ()
) -> tuple[Dateline | None, str | None, str]:
    """(dateline, agency, text without its opening dateline) for one article text."""
    dateline: Dateline | None = None
    body = text
    start = len(text) - len(text.lstrip())
    found = _match_at(text, start)
    if found:
        dateline, end = found
        body = text[end:]
    else:
        # A dateline after a glued headline or on the second line: recorded, text kept whole.
        for m in _LATER_START.finditer(text, start, start + HEADLINE_PREFIX_CHARS):
            found = _match_at(text, m.start())
            if found and (found[0].agency or _DASHED.search(found[0].raw)):
                dateline = found[0]
                break
    if dateline is None:
        dateline = _header_dateline(header)
    agency = dateline.agency if dateline else None
    if agency is None:
        credit = _TRAILING_CREDIT.search(text[-80:])
        if credit:
            agency = agency_name(credit.group("agency"))
    return dateline, agency, body


def apply_datelines(article: Article) -> Article:
    """The article with its dateline and agency recorded and the dateline cut from its text."""
    dateline, agency, text = find_dateline(article.text, article.header)
    return replace(article, dateline=dateline, agency=article.agency or agency, text=text)


class FindDatelines(beam.PTransform):
    """Record each article's dateline and wire agency; failures go to dead letters."""

    def expand(self, articles):
        return articles | GuardedMap(STAGE_DATELINES, apply_datelines)
