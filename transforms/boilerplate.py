"""Boilerplate rules: tell article paragraphs from site chrome, in extractor output and text captures."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from transforms.records import Extracted, StageError

# ---------------------------------------------------------------------------
# Thresholds and lexicons: the one place to tune what counts as chrome.
# ---------------------------------------------------------------------------

# A line this long (in words) ending like a sentence is article prose in a capture.
PROSE_MIN_WORDS = 8
# Lynx breaks lines longer than about 1,000 characters; a line this long continues below.
LYNX_WRAP_CHARS = 900
# What a capture line that is not prose costs the body region, per character (and at least).
CHROME_COST_PER_CHAR = 1.0
CHROME_MIN_COST = 40.0
# A stop marker ("Previous Story", "Related stories") costs this much: the body rarely spans one.
STOP_MARKER_COST = 3000.0
# A stop marker ends extracted text only when prose after it is under this share of prose before.
TAIL_PROSE_SHARE = 0.25
# A short prose-less line this long or shorter after the last body sentence is a cut-off fragment.
FRAGMENT_MAX_WORDS = 3
# A standfirst is a sentence-length paragraph right under the title without a final full stop.
STANDFIRST_MAX_WORDS = 70
# The headline is often repeated in the first paragraphs the extractor returns.
TITLE_REPEAT_WITHIN = 3
# Share of words a reworded headline has in common with the title.
TITLE_OVERLAP = 0.6
# A headline has this many words at most (and at least).
TITLE_MAX_WORDS = 30
TITLE_MIN_WORDS = 2
# Paragraphs shorter than this are not checked for repetition (headings, "___" rules).
REPEAT_MIN_CHARS = 40

# Wire services and feeds: a byline naming one is not a person, and is not the publisher.
AGENCIES = (
    "Thomson Reuters", "Reuters", "Associated Press", "AP", "AFP", "Agence France-Presse",
    "Yonhap", "Kyodo", "ANI", "PTI", "IANS", "Xinhua", "KCNA", "Bloomberg", "dpa", "EFE",
    "UPI", "Press Trust of India", "Asian News International",
)

_TERMINAL = re.compile(r"""[.!?…:;。！？]["'”’)\]]*\s*$|\((?:[A-Z][\w.-]*|[A-Z]+)\)\s*$""")
_WORD = re.compile(r"\w+")

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = (
    rf"(?:{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})"
)

# A whole line that is a date, a time stamp or "Published/Updated: <date>" (kept in header).
DATE_LINE = re.compile(
    rf"^(?:(?:\*\s*)?(?:(?:Published|Updated|Posted|Last updated|First published|Modified)"
    rf"\s*(?:on|at)?\s*:?\s*)?(?:[A-Z][a-z]+day,?\s+)?{_DATE}"
    r"(?:\s*(?:[-|,•@]|at)?\s*\d{1,2}[:.]\d{2}(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s*[A-Z]{2,4})?)?"
    r"|.{0,60}?(?:Published|Updated|Posted)\s*:?\s*.{0,20}?" + _DATE + r".{0,40})$",
    re.I,
)
# "By Jane Doe", "By Jane Doe and John Roe", "By Thomson Reuters Mar 29, 2024 | 5:20 AM".
BYLINE = re.compile(r"^(?:Written\s+)?By[:\s]+(?P<who>[^\d|•]+?)(?P<rest>\s*(?:[,|•]|\d).*)?$")
# "WION Web Team", "Express Web Desk", "News Nation Bureau": a newsroom signing as author.
DESK_BYLINE = re.compile(
    r"^(?P<org>[A-Z][\w.&'-]*(?:\s+[A-Z][\w.&'-]*){0,3})\s+"
    r"(?:Web Team|Web Desk|News Desk|Desk|Staff|Bureau|Team|Online)$"
)
READ_TIME = re.compile(r"^\d+\s*(?:min(?:ute)?s?|hrs?)\.?\s+read$", re.I)
# A site describing itself: "X is your go-to online destination for ...".
SELF_BLURB = re.compile(
    r"^(?P<site>[A-Z][\w.&' -]{1,60}?)\s+is\s+(?:your|the|a|an)\s+(?:go-to|leading|premier|"
    r"trusted|one-stop|number one|no\.? ?1|largest|online|independent|digital)\b.{0,80}?"
    r"\b(?:destination|source|platform|portal|site|website|publication|outlet|news)\b",
    re.I,
)
# "...reports Asian Lite News" closing a standfirst names the publisher.
REPORTS_PUBLISHER = re.compile(
    r"(?:…|\.\.\.|\s)\s*reports\s+(?P<site>[A-Z][\w.&'-]*(?:\s+[A-Z][\w.&'-]*){0,4})\s*$"
)
# Closing credit lines: metadata, not body.
CREDIT = re.compile(
    r"^\(?\s*(?:(?:Reporting|Writing|Additional reporting|Editing|Compiled|Translated)"
    r"(?:\s+and\s+\w+)?\s+by\b.*"
    r"|[^.]{0,200}\b(?:contributed (?:to )?(?:this|the) (?:report|story|article)|"
    r"contributed reporting)\.?"
    r"|(?:Edited|Written|Compiled) by [^.]{0,80}\.?)\s*\)?$",
    re.I,
)

# Lines that are never article text: share and subscribe widgets, captions, credits of
# photos, "follow us", newsletter pitches, comment counters, template markup.
_DROP_PATTERNS = (
    # share and social widgets
    r"(?:share|tweet|pin|email|print)(?: this)?(?: (?:on|with|via|article|story|page))?"
    r"(?: \w+)?",
    r"share this (?:with|on|article|story).*",
    r"•?\s*link copied",
    r"copy (?:this )?link",
    r"(?:click|tap) to (?:share|copy|print|email).*",
    r"(?:\d+\s+)?comments?(?:\s+\(\d+\))?",
    r"(?:view|show|read|load|see) (?:all )?\d*\s*comments?.*",
    r"leave a (?:comment|reply).*",
    r"\(?button\)?.*",
    r"(?:advertisement|sponsored|ad|ads|story continues below(?: advertisement)?|"
    r"article continues below(?: this ad)?)",
    r"skip (?:to )?(?:content|ad|advertisement|main content)",
    # subscribe / newsletter / follow
    r"(?:sign up|subscribe|register)\b.{0,120}(?:newsletter|inbox|updates|email|free|today|now)"
    r".{0,80}",
    r"get (?:the|our)\b.{0,80}\b(?:newsletter|inbox|updates|app)\b.{0,60}",
    r".{0,80}\bsubscribe to\b.{0,80}\bnewsletters?\b.{0,40}",
    r"follow (?:us|\S+(?: \S+){0,8}) on (?:twitter|facebook|instagram|linkedin|youtube|"
    r"social media).{0,120}",
    r"follow (?:\S+ ){0,3}(?:full |latest |live )?coverage .{0,120}",
    r"(?:\w+ ){0,4}newsletter",
    r"(?:reading time|read time|tempo de leitura|lesezeit|temps de lecture)\s*:.{0,30}",
    r"(?:have a (?:news )?tip\??|got a tip\??|tips\?).{0,200}",
    r"if you enjoyed this (?:article|story|post).*",
    r"listen to \w+(?: \w+){0,3} live at.{0,120}",
    r"how to listen to .{0,80}",
    r"(?:listen|download|itunes|spotify|stitcher|acast)\s*:\s*https?://\S+",
    # captions and photo credits
    r".{0,200}(?:\b(?:image copyright|image caption|photograph\s*:|photo(?:graph)?\s*:\s*\(|"
    r"photo credit|picture credit|getty images)|\((?:photo )?credits?\s*:).{0,300}",
    r"(?:file )?(?:photo|image|picture|pictured|above|top)\s*:.{0,200}",
    r"main img|ugc_banner|\[?image\]?|\[?photo\]?|\[?video\]?|play video|watch video|"
    r"video player.{0,40}",
    r"\[[^\]]{0,120}\]",
    r"\[\[[^\]]*\]\]",
    r"(?:read|continue|see) (?:more|the full story|full article) (?:on|at) [\w.-]+\.\w+.{0,40}",
    r"\d+\s*(?:min(?:ute)?s?|hrs?)\.?\s+read",
    r"(?:also read|read more|related|see also|more|recommended|watch|listen|don't miss|"
    r"must read|trending)\s*[:|]\s*.{0,200}",
    r"you may (?:also )?like.{0,10}",
    r"filed under\s*:.{0,200}",
    r"(?:tags|topics|categories)\s*:.{0,200}",
    r"_{3,}.*|-{3,}|\*{3,}|={3,}",
    r"(?:previous|next) (?:story|article|post)\s*:?.{0,0}",
    r"go ?to ?top|back to top|scroll to top",
    r"(?:©|copyright|\(c\))\s*.{0,200}(?:all rights reserved)?.{0,60}",
    r"all rights reserved.{0,60}",
    r"(?:the )?(?:\w+ )?(?:is|are) committed to publishing a diversity of letters.{0,400}",
)
DROP_LINE = re.compile(r"^(?:" + "|".join(_DROP_PATTERNS) + r")$", re.I)

# Headings after which a page shows other stories: nothing after one is this article.
_STOP_PATTERNS = (
    r"(?:related|more|other|latest|top|popular|recommended|trending|recent|similar|"
    r"featured)(?: \w+){0,3} (?:stories|articles|news|posts|reads|videos|links|content|"
    r"coverage|on \w+)",
    r"related(?: stories| articles| content| links| posts| topics| coverage)?",
    r"latest from.{0,40}",
    r"more from.{0,40}",
    r"(?:previous|next) (?:story|article|post)",
    r"don'?t miss",
    r"you (?:may|might) (?:also )?(?:like|enjoy|be interested in).{0,10}",
    r"(?:most )?(?:read|popular|viewed|shared)(?: now| today| stories| articles)?",
    r"(?:comments|leave a (?:comment|reply)|post a comment|join the conversation|"
    r"\d+ comments?)",
    r"(?:sponsored|promoted) (?:stories|content|links)",
    r"around the web|from the web|elsewhere on the web",
    r"go ?to ?top|back to top",
    r"what to read next|read next|up next|more stories",
    r"about (?:the )?author|about us",
    r"(?:share|share this|share this article|share this story)\s*:?",
    r"contacts?",
)
STOP_MARKER = re.compile(r"^(?:" + "|".join(_STOP_PATTERNS) + r")\s*:?\.*$", re.I)
# Headings that open a short teaser list inside the article ("DON'T MISS", "READ MORE").
TEASER_HEAD = re.compile(r"^(?:don'?t miss|read more|also read|related|see also|most read)"
                         r"\s*:?\.*$", re.I)
# Lynx list items, form fields and link residue.
_BULLET = re.compile(r"^(?:[*+•o#-]|\d+\.)\s+")


def words(text: str) -> int:
    return len(_WORD.findall(text))


def is_prose(line: str) -> bool:
    """A sentence-like line: long enough and ending as sentences end."""
    return words(line) >= PROSE_MIN_WORDS and bool(_TERMINAL.search(line))


def drop_reason(line: str) -> str | None:
    """Why ``line`` (one paragraph, stripped) is chrome, or None when it may be article text."""
    if not line:
        return "empty"
    if CREDIT.match(line):
        return "credit"
    if DROP_LINE.match(line):
        return "chrome"
    if READ_TIME.match(line):
        return "chrome"
    if SELF_BLURB.match(line):
        return "blurb"
    return None


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Cleaned:
    paragraphs: tuple[str, ...]
    credits: tuple[str, ...]
    summary: str | None


def clean_paragraphs(
    paragraphs: Sequence[str],
    title: str | None = None,
    description: str | None = None,
) -> Cleaned:
    """Drop chrome from an extractor's paragraphs: repeated title, captions, share and
    subscribe lines, credits, teaser lists, repeats, and what follows a stop marker."""
    kept: list[str] = []
    credits: list[str] = []
    seen: set[str] = set()
    summary: str | None = None
    title_key = _norm(title or "")
    desc_key = _norm(description or "")
    in_teasers = False
    for raw in paragraphs:
        line = raw.strip()
        if not line:
            continue
        key = _norm(line)
        if len(kept) < TITLE_REPEAT_WITHIN and title_key and _same_headline(key, title_key):
            continue
        if not kept and summary is None and desc_key and key and desc_key.startswith(key) \
                and not is_prose_sentence_end(line):
            summary = line
            continue
        if TEASER_HEAD.match(line):
            in_teasers = True
            continue
        if STOP_MARKER.match(line) and kept and _tail_is_short(paragraphs, raw):
            break
        if in_teasers:
            # Teasers are headline-like: no sentence end. The article resumes with prose.
            if not is_prose(line) and words(line) <= TITLE_MAX_WORDS:
                continue
            in_teasers = False
        reason = drop_reason(line)
        if reason == "credit":
            credits.append(line)
            continue
        if reason:
            continue
        if len(line) >= REPEAT_MIN_CHARS:
            if key in seen:
                continue
            seen.add(key)
        kept.append(line)
    return Cleaned(tuple(kept), tuple(credits), summary)


def _same_headline(key: str, title_key: str) -> bool:
    """The page's headline, or the same headline reworded (on-page h1 vs. meta title)."""
    if key == title_key:
        return True
    a, b = set(key.split()), set(title_key.split())
    return words(key) <= TITLE_MAX_WORDS and len(a & b) >= TITLE_OVERLAP * max(len(a), len(b))


def is_prose_sentence_end(line: str) -> bool:
    return bool(re.search(r"[.!?。！？][\"'”’)]*\s*$", line))


def _tail_is_short(paragraphs: Sequence[str], marker: str) -> bool:
    """A stop marker ends the article only if little prose follows it (not a mid-article
    heading that happens to read "Comments" or "Related")."""
    idx = list(paragraphs).index(marker)
    before = sum(len(p) for p in paragraphs[:idx] if is_prose(p))
    after = sum(len(p) for p in paragraphs[idx + 1:] if is_prose(p))
    return after < TAIL_PROSE_SHARE * before


def split_title(title: str | None, sitename: str | None, hostname: str | None = None) -> str | None:
    """The headline without the site name that page titles append or prepend."""
    if not title:
        return None
    title = " ".join(title.split())
    names = {_norm(n) for n in (sitename, hostname) if n}
    if hostname:
        names.add(_norm(hostname.split(".")[-2] if "." in hostname else hostname))
    parts = re.split(r"\s+[|–—-]\s+|\s+::\s+|\s+»\s+", title)
    if len(parts) > 1:
        kept = [p for p in parts if _norm(p) not in names and _norm(p).replace(" ", "")
                not in {n.replace(" ", "") for n in names}]
        if kept and len(kept) < len(parts):
            return " - ".join(kept) if len(kept) > 1 else kept[0]
    return title


def joined(paragraphs: Iterable[str]) -> str:
    return "\n\n".join(paragraphs)


def clean_capture(text: str) -> Extracted:
    """Title, header, body and credits of a plain-text capture of a news page."""
    from transforms.capture import parse_capture  # noqa: PLC0415

    return parse_capture(text)


__all__ = [
    "AGENCIES", "BYLINE", "CREDIT", "DATE_LINE", "DESK_BYLINE", "DROP_LINE", "STOP_MARKER",
    "Cleaned", "StageError", "clean_capture", "clean_paragraphs", "drop_reason", "is_prose",
    "split_title", "words",
]
