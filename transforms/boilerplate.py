"""Boilerplate rules: article text versus site chrome, in extractor output and text captures."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

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
# A stop marker ("Previous Story", "Related stories") costs this much: a body spans one only
# when much prose follows (in-article "Related" boxes).
STOP_MARKER_COST = 300.0
# A stop marker ends extracted text only when prose after it is under this share of prose before.
TAIL_PROSE_SHARE = 0.25
# Prose weight depends this much on the share of prose among this many lines each side.
CONTEXT_LINES = 2
CONTEXT_WEIGHT = 0.6
# A lynx table row (columns set apart by runs of spaces) counts this much of its length.
TABLE_ROW_WEIGHT = 0.5
# Japanese and Chinese write without spaces: this many characters make about one word.
CJK_CHARS_PER_WORD = 2
# A short prose-less line this long or shorter after the last body sentence is a cut-off fragment.
FRAGMENT_MAX_WORDS = 3
# A standfirst is a sentence-length paragraph right under the title without a final full stop.
STANDFIRST_MAX_WORDS = 70
# Share of words a reworded headline has in common with the title.
TITLE_OVERLAP = 0.6
# How far above the body (in non-blank lines) to look for the title and the header.
HEAD_SCAN_LINES = 8
ABOVE_TITLE_LINES = 3
# A paragraph of this many words or more under the title is a standfirst, not a headline.
STANDFIRST_MIN_WORDS = 15
# Short lines inside the body with fewer words are chrome ("Report", "Close"); longer are subheads.
SUBHEAD_MIN_WORDS = 2
# Credit lines are looked for this many lines after the body.
CREDIT_SCAN_LINES = 4
# Text under this many words, without one sentence of prose, is not an article.
ARTICLE_MIN_WORDS = 20
# A headline has this many words at most (and at least).
TITLE_MAX_WORDS = 30
TITLE_MIN_WORDS = 2
# A capture with no prose paragraph is still a news item when it is a headline
# (at least this many words), optionally with a line or two of brief under it.
SHORT_ITEM_MIN_WORDS = 4
SHORT_ITEM_MAX_LINES = 3
# Paragraphs shorter than this are not checked for repetition (headings, "___" rules).
REPEAT_MIN_CHARS = 40
# A link with fewer words ("here", "read more") is not matched against paragraphs.
LINK_TEXT_MIN_WORDS = 3

# Wire services and feeds: a byline naming one is not a person, and is not the publisher.
AGENCIES = (
    "Thomson Reuters", "Reuters", "Associated Press", "AP", "AFP", "Agence France-Presse",
    "Yonhap", "Kyodo", "ANI", "PTI", "IANS", "Xinhua", "KCNA", "Bloomberg", "dpa", "EFE",
    "UPI", "Press Trust of India", "Asian News International",
)

_TERMINAL = re.compile(r"""[.!?…:;。！？]["'”’)\]]*\s*$|\((?:[A-Z][\w.-]*|[A-Z]+)\)\s*$""")
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

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
    r"^(?P<org>[A-Z][\w.&'-]*(?:\s+[A-Z][\w.&'-]*){0,3}?)\s+"
    r"(?:Web Team|Web Desk|News Desk|Desk|Staff|Bureau|Team|Online)$"
)
# A date under a label of one or two words: "Veröffentlicht am 06.12.2022",
# "기사입력 :[ 2018-08-25 15:24 ]", "Mittwoch, 01.11.2023". Text after the date makes it a
# listing ("02.11.2022 - Placebo - Stadthalle"), not a time stamp.
LABELLED_DATE = re.compile(
    rf"^(?:[^\W\d_]+(?:\s[^\W\d_]+)?\s*[:,]?\s*)?[\[(]?\s*{_DATE}"
    r"(?:,?\s*\d{1,2}[:.]\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s*(?:Uhr|h|[A-Z]{2,4}))?)?"
    r"\s*[\])]?\.?$",
    re.I,
)
READ_TIME = re.compile(r"^\d+\s*(?:min(?:ute)?s?|hrs?)\.?\s+read$", re.I)
# A site describing itself: "X is your go-to online destination for ...".
SELF_BLURB = re.compile(
    r"^(?P<site>[A-Z][\w.&' -]{1,60}?)\s{1,8}is\s+(?:your|the|a|an)\s+(?:go-to|leading|premier|"
    r"trusted|one-stop|number one|no\.? ?1|largest|online|independent|digital)\b.{0,80}?"
    r"\b(?:destination|source|platform|portal|site|website|publication|outlet|news)\b",
    re.I,
)
# "...reports Asian Lite News" closing a standfirst names the publisher.
REPORTS_PUBLISHER = re.compile(
    r"(?:…|\.\.\.|(?<!\s)\s)\s*reports\s+(?P<site>[A-Z][\w.&'-]*(?:\s+[A-Z][\w.&'-]*){0,4})\s*$"
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
    # the same prompts in other languages ("Teilen mit:", "Partager sur Facebook")
    r"(?:teilen|partager|compartir|condividi|delen|udostępnij)(?: (?:mit|auf|sur|en|su|op|"
    r"via|on)(?: \w+)?)?\s*:?",
    r"(?:wird geladen|loading|chargement|cargando|caricamento)\s*(?:\.{3}|…)?",
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
    r"(?:anzeige|werbung|publicité|publicidad|pubblicità)(?:\s*[-:–|,].{0,160})?",
    r"skip (?:to )?(?:content|ad|advertisement|main content)",
    # subscribe / newsletter / follow
    r"(?:sign up|subscribe|register)\b.{0,120}(?:newsletter|inbox|updates|email|free|today|now)"
    r".{0,80}",
    r"get (?:the|our)\b.{0,80}\b(?:newsletter|inbox|updates|app)\b.{0,60}",
    r".{0,80}\bsubscribe to\b.{0,80}\bnewsletters?\b.{0,40}",
    r"follow (?:us|\S+(?: \S+){0,8}) on (?:twitter|facebook|instagram|linkedin|youtube|"
    r"social media).{0,120}",
    r"follow (?:\S+ ){0,3}(?:full |latest |live )?coverage .{0,120}",
    r"(?:folgen sie uns|suivez[- ]nous|síguenos|seguici|volg ons)\b.{0,120}",
    r"(?:\w+ ){0,4}newsletter",
    # newsletter and sign-up prompts, in the common languages, and their confirmations
    r".{0,120}\bnewsletters?\b.{0,120}\b(?:anmelden|abonnieren|bestellen|erhalten|subscribe|"
    r"sign(?:ing)? up|inscri\w*|suscr\w*|iscri\w*)\b.{0,160}",
    r".{0,120}\b(?:anmelden|abonnieren|subscribe|sign(?:ing)? up|inscri\w*|suscr\w*)\b.{0,120}"
    r"\bnewsletters?\b.{0,160}",
    r"thanks for signing up!?|keep an eye on your inbox.{0,80}|"
    r"(?:sorry!?\s*)?there was an error processing your subscription.{0,20}",
    r"(?=.{0,100}$).{0,60}\b(?:click|tap)(?:ing)? here\b.{0,60}",
    r"subscribe to .{0,60}\b(?:youtube|channel|podcast)\b.{0,120}",
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
    r"(?:foto|fotos|bild|bildquelle|quelle|titelbild|beitragsbild|crédit photo|crédits?|"
    r"fuente|fonte)\s*:.{0,160}|(?:beitragsbild|titelbild)\b.{0,120}",
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
    r"(?:tags|topics|categories|kategorien?|schlagw(?:ö|oe)rter|schlagworte|stichw(?:ö|oe)rter|"
    r"catégories?|étiquettes|etiquetas|categorías?|categorie)\s*:.{0,200}",
    r"_{3,}.*|-{3,}|\*{3,}|={3,}",
    r"(?:previous|next) (?:story|article|post)\s*:?.{0,0}",
    r"(?:vorschau auf den )?(?:nächste[nr]?|vorherige[nr]?|vorige[nr]?) (?:artikel|beitrag)\s*:?|"
    r"(?:article|billet) (?:suivant|précédent)|(?:artículo|nota) (?:siguiente|anterior)",
    r"go ?to ?top|back to top|scroll to top",
    r"(?:©|copyright|\(c\))\s*.{0,200}(?:all rights reserved)?.{0,60}",
    r"all rights reserved.{0,60}",
    r"(?:the )?(?:\w+ )?(?:is|are) committed to publishing a diversity of letters.{0,400}",
)
DROP_LINE = re.compile(r"^(?:" + "|".join(_DROP_PATTERNS) + r")$", re.I)

# Headings over other stories: "Related articles", "Our latest stories", "You may also like".
_OTHER_STORIES_PATTERNS = (
    r"(?:our |the )?(?:related|more|other|latest|top|popular|recommended|trending|recent|"
    r"similar|featured)(?: \w+){0,3} (?:stories|articles|news|posts|reads|videos|links|"
    r"content|coverage|on \w+)",
    r"related(?: stories| articles| content| links| posts| topics| coverage)?",
    r"latest from.{0,40}",
    r"more from.{0,40}",
    r"don'?t miss",
    r"you (?:may|might) (?:also )?(?:like|enjoy|be interested in).{0,10}",
    r"(?:most )?(?:read|popular|viewed|shared)(?: now| today| stories| articles)?",
    r"(?:sponsored|promoted) (?:stories|content|links)",
    r"around the web|from the web|elsewhere on the web",
    r"what to read next|read next|up next|more stories",
    r"(?:read|watch|see) (?:these|this|what's|more)? ?next",
)
OTHER_STORIES = re.compile(r"^(?:" + "|".join(_OTHER_STORIES_PATTERNS) + r")\s*:?\.*$", re.I)
# Headings after which a page shows other stories, comments or the site's own pages:
# nothing after one is this article.
_STOP_PATTERNS = (
    *_OTHER_STORIES_PATTERNS,
    r"(?:previous|next) (?:story|article|post)",
    r"(?:comments|leave a (?:comment|reply)|post a comment|join the conversation|"
    r"\d+ comments?)",
    r"go ?to ?top|back to top",
    r"about (?:the )?author|about us",
    r"(?:share|share this|share this article|share this story)\s*:?",
    r"contacts?",
    r"(?:\w+ ){0,3}comments(?: \(\d+\))?",
)
STOP_MARKER = re.compile(r"^(?:" + "|".join(_STOP_PATTERNS) + r")\s*:?\.*$", re.I)
# Headings that open a short teaser list inside the article ("DON'T MISS", "READ MORE").
TEASER_HEAD = re.compile(
    r"^(?:don'?t miss|read more|also read|related|see also|most read|explore further|"
    # the same headings in other languages
    r"lesen sie (?:auch|mehr)(?: die folgenden beiträge)?|mehr zum thema|"
    r"das könnte sie (?:auch )?interessieren|weitere \w*(?:tipps|artikel|beiträge|meldungen|"
    r"nachrichten|themen)(?: zum thema)?|kommentierte artikel|(?:à )?lire aussi|voir aussi|"
    r"(?:le|te) puede interesar|lea también|leggi anche|czytaj (?:też|także)|zobacz (?:też|także))"
    r"\s*:?\.*$", re.I)
# Lynx list items, form fields and link residue.
_BULLET = re.compile(r"^(?:[*+•o#-]|\d+\.)\s+")


def words(text: str) -> int:
    """Word count; scripts written without spaces count one word per CJK_CHARS_PER_WORD."""
    cjk = len(_CJK.findall(text))
    if not cjk:
        return len(_WORD.findall(text))
    return len(_WORD.findall(_CJK.sub(" ", text))) + cjk // CJK_CHARS_PER_WORD


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


def clean_paragraphs(
    paragraphs: Sequence[str],
    title: str | None = None,
    headlines: Iterable[str] = (),
    link_texts: Container[str] = frozenset(),
    teasers: Container[str] = frozenset(),
    boxed: Container[str] = frozenset(),
) -> Cleaned:
    """Drop chrome from an extractor's paragraphs: the headline repeated above the body,
    captions, share and subscribe lines, credits, teaser lists, links to other stories and
    what follows a stop marker. Only what can be named goes: headings, list items, the lead
    and passages the page repeats stay (a subheading resembling the title is article
    structure, and a quoted document may well repeat).

    What the page itself tells, as keys of ``teaser_key``: ``headlines`` are its <h1> texts
    (the one on the page may be worded unlike the meta title), ``link_texts`` the texts of
    its links (``link_key``), ``teasers`` those of the items listed under a heading over
    other stories (extractors drop such headings and keep the list) and ``boxed`` those
    inside its sign-up and promotion boxes. They are looked up only for the lines they can
    concern, so they may be computed on the first lookup."""
    kept: list[str] = []
    credits: list[str] = []
    title_key = _norm(title or "")
    headline_keys = {_norm(h) for h in headlines} - {""}
    in_teasers = False
    lines = [raw.strip() for raw in paragraphs]
    teasers_from = _trailing_link_items(lines, link_texts)
    for idx, (raw, line) in enumerate(zip(paragraphs, lines, strict=True)):
        if not line:
            continue
        key = _norm(line)
        if not kept and ((title_key and _same_headline(key, title_key)) or key in headline_keys):
            continue
        if (idx >= teasers_from or (_is_promo_link(line) and key in link_texts)
                or (_BULLET.match(line) and key in teasers) or key in boxed):
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
        if reason or _is_time_stamp(_BULLET.sub("", line, count=1)):
            continue
        kept.append(line)
    return Cleaned(tuple(kept), tuple(credits))


def _is_time_stamp(line: str) -> bool:
    """A line that only dates the page ("Published 18 November 2019"): metadata that
    extractors leave in the text when the page sets it inside the article."""
    return bool(DATE_LINE.match(line) or LABELLED_DATE.match(line))


_SHOWN_ADDRESS = re.compile(r"://|^\s*www\.|\S@\S")


def link_key(text: str) -> str | None:
    """The key ``clean_paragraphs`` matches a link's text by, or None for a link too short
    to tell from ordinary words ("here", "read more") and for an address shown as the link
    (a URL or e-mail address the article cites)."""
    if _SHOWN_ADDRESS.search(text):
        return None
    key = _norm(text)
    return key if len(key.split()) >= LINK_TEXT_MIN_WORDS else None


def teaser_key(text: str) -> str:
    """The key ``clean_paragraphs`` matches a listed teaser's text by."""
    return _norm(text)


def _is_promo_link(line: str) -> bool:
    """A paragraph that is one link set in capitals: a promoted headline of another story
    between the article's paragraphs ("CO-FOUNDER 'PROUD' OF ..."). A link in ordinary case
    can be the article's own (a list of sources, a headline linking to its topic)."""
    return line.upper() == line and line.lower() != line and not is_prose(line)


def _trailing_link_items(lines: Sequence[str], link_texts: Container[str]) -> int:
    """Index where the run of paragraphs or list items that are each one link's text, ending
    the text, begins (len(lines) when there is none): the other stories a page lists under
    its article once the extractor has dropped the list's heading."""
    start = len(lines)
    for idx in range(len(lines) - 1, -1, -1):
        line = lines[idx]
        if not line:
            continue
        # Teasers are headline-like (no sentence end); a closing sentence is the article's.
        if is_prose_sentence_end(line) or _norm(line) not in link_texts:
            break
        start = idx
    return start


def is_article_like(paragraphs: Sequence[str]) -> bool:
    """Enough text, or at least one real sentence, to call it an article."""
    return any(is_prose(p) for p in paragraphs) or sum(map(words, paragraphs)) >= ARTICLE_MIN_WORDS


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


# Where page titles join the headline and the site name: " | ", " - ", " – ", " :: ", " » ",
# " · ", " / ", " : ", " ~ ", " › ", " * ", a bare "|" (or a full-width "｜") and, between CJK
# characters, a bare dash, "_" or "・" ("...城！-新华网", "标题——人民网"). Titles are
# whitespace-collapsed first, so single spaces suffice (and keep the scan linear).
_CJK_CHAR = r"[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]"
_TITLE_SEPARATOR = re.compile(
    r"\s(?:[|│–—·•»›~*⋆⁄/:]|--?|::)\s|\s?[|│｜]\s?"
    rf"|(?<={_CJK_CHAR})(?:——|[-_–—－・])(?={_CJK_CHAR})"
)
# A site named by its address: "www.AussenGedanken.de", "Battery-News.de".
_DOMAIN = re.compile(r"^(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}$", re.I)
# A title part that is only a date: "23.01.2022 - Headline".
_WHOLE_DATE = re.compile(rf"^\s*{_DATE}\s*$", re.I)
# A title part naming the site has this many words at most.
SITE_PART_MAX_WORDS = 6
# A site's own name shorter than this (squashed) is not looked for inside a part.
SITE_NAME_MIN_CHARS = 4


# Title parts and site names repeat within a page and across a site's pages: their squashed
# forms are kept (pure functions of the text, so results never change).
SQUASHED_CACHE = 4096


@lru_cache(maxsize=SQUASHED_CACHE)
def _squash(text: str) -> str:
    """Letters and digits only, without accents: "Nestlé Marktplatz" ~ nestle-marktplatz.de."""
    folded = unicodedata.normalize("NFKD", text)
    return _norm("".join(c for c in folded if not unicodedata.combining(c))).replace(" ", "")


# How German spells its umlauts in a web address: "Süddeutsche" ~ sueddeutsche.de.
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                          "Ü": "Ue"})


@lru_cache(maxsize=SQUASHED_CACHE)
def _keys(text: str) -> frozenset[str]:
    """The squashed forms of a name: accents dropped, and German umlauts spelt out."""
    return frozenset((_squash(text), _squash(text.translate(_UMLAUTS)))) - {""}


def is_site_part(part: str, sitename: str | None, hostname: str | None,
                 names: Sequence[str] = ()) -> bool:
    """Whether one part of a page title is the site's name: its address, its og:site_name
    (or a part of it), its host name's label ("Schweizerische Vogelwarte" on vogelwarte.ch),
    or exactly one of the other ``names`` the page gives itself (transforms/extract.site_names)."""
    part = part.strip()
    if not part:
        return False
    keys = _keys(part)
    if any(keys & _keys(n) for n in names):
        return True
    if words(part) > SITE_PART_MAX_WORDS:
        return False
    if _DOMAIN.match(part):
        return True
    if not keys:
        return False
    site_keys = [k for n in (sitename, hostname) if n for k in _keys(n)]
    if hostname:
        labels = [lb for lb in hostname.lower().split(".") if lb not in ("www", "m")]
        site_keys += [_squash(lb) for lb in labels[:-1]]
    for name in site_keys:
        for key in keys:
            if key == name:
                return True
            if len(name) >= SITE_NAME_MIN_CHARS and (key in name or name in key):
                return True
    return False


def title_parts(title: str) -> list[str]:
    """The parts of a page title between its separators ("Headline | Site" -> both)."""
    return [p.strip() for p in _TITLE_SEPARATOR.split(" ".join(title.split())) if p.strip()]


def split_title(title: str | None, sitename: str | None, hostname: str | None = None,
                names: Sequence[str] = ()) -> str | None:
    """The headline without the site name that page titles append or prepend."""
    if not title:
        return None
    title = " ".join(title.split())
    # The parts as spans of the title, so that what is kept keeps its own separators.
    bounds = [0, *(i for m in _TITLE_SEPARATOR.finditer(title) for i in m.span()), len(title)]
    parts = [(a, b) for a, b in zip(bounds[::2], bounds[1::2], strict=True)
             if title[a:b].strip()]
    if len(parts) < 2:
        return title
    # The site name (or the page's date, or stars and other signs without a letter) sits at
    # either end; a part in the middle is the headline's own.
    def dropped(span: tuple[int, int]) -> bool:
        p = title[span[0]:span[1]]
        return (is_site_part(p, sitename, hostname, names) or bool(_WHOLE_DATE.match(p))
                or not _squash(p))

    kept = list(parts)
    # The site's name followed by its slogan: "Headline | Site | Jetzt entdecken!".
    for i in range(len(kept) - 2, 0, -1):
        if (is_site_part(title[kept[i][0]:kept[i][1]], sitename, hostname, names)
                and words(title[kept[i + 1][0]:]) <= SITE_PART_MAX_WORDS):
            kept = kept[:i]
            break
    while len(kept) > 1 and dropped(kept[-1]):
        kept.pop()
    while len(kept) > 1 and dropped(kept[0]):
        kept.pop(0)
    if kept == parts:
        return title
    return title[kept[0][0]:kept[-1][1]].strip()


def joined(paragraphs: Iterable[str]) -> str:
    return "\n\n".join(paragraphs)


@dataclass(frozen=True)
class _Line:
    text: str  # stripped, bullet removed
    bullet: bool
    weight: float  # > 0 article prose, < 0 chrome


_TABLE_ROW = re.compile(r"\S {2,}\S+ {2,}\S")
# Lines up to 500 characters: a backreference tried at every split is quadratic in the line.
_DOUBLED = re.compile(r"^(?=.{13,500}$)(?P<once>.{6,}?)\s+(?P=once)$")
_LEFTOVER_BREAK = re.compile(r"<br\s*/?>|</?p>", re.I)
_MARKUP = re.compile(r"^\[\[.*\]\]$|^\S+\.(?:jpe?g|png|gif|webp|svg)$", re.I)
_NAME = re.compile(r"^[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|de|van|von|da|del|bin|al|&))*$")
# A line of one to five capitalised words naming a site ("The Korea Herald").
_SITE_NAME = re.compile(r"^(?:The\s+)?[A-Z][\w.&'’-]*(?:\s+[A-Z][\w.&'’-]*){0,4}$")
_DATE_ANYWHERE = re.compile(_DATE, re.I)


def _without_markup_leftovers(text: str) -> str:
    """A capture with the line breaks and character references a page left in it as text
    ("...measures<br/>&#13;") turned into what they stand for."""
    if "<" in text:
        text = _LEFTOVER_BREAK.sub("\n", text)
    if "&" in text:
        text = html.unescape(text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _capture_lines(text: str) -> list[str]:
    """Lines of a capture, with lynx's wrapped long lines joined back."""
    out: list[str] = []
    carry = ""
    for raw in _without_markup_leftovers(text).replace("\xa0", " ").split("\n"):
        line = raw.rstrip()
        if carry:
            if line.strip():
                out[-1] = out[-1] + " " + line.strip()
                carry = out[-1] if len(line) >= LYNX_WRAP_CHARS else ""
                continue
            carry = ""
        out.append(line)
        if len(line) >= LYNX_WRAP_CHARS:
            carry = line
    return out


def _classify(raw: str) -> _Line:
    stripped = raw.strip()
    bullet = bool(_BULLET.match(stripped))
    text = _BULLET.sub("", stripped, count=1).strip() if bullet else stripped
    cost = -max(CHROME_MIN_COST, CHROME_COST_PER_CHAR * len(text))
    if not text:
        return _Line(text, bullet, 0.0)
    if STOP_MARKER.match(text):
        return _Line(text, bullet, -STOP_MARKER_COST)
    if drop_reason(text) or _DOUBLED.match(text) or _MARKUP.match(text):
        return _Line(text, bullet, cost)
    if is_prose(text):
        return _Line(text, bullet, float(len(text)))
    if _TABLE_ROW.search(stripped) and not bullet:
        return _Line(" ".join(text.split()), bullet, TABLE_ROW_WEIGHT * len(text))
    return _Line(text, bullet, cost)


def _in_context(lines: list[_Line]) -> list[_Line]:
    """Scale prose by how much prose surrounds it: article paragraphs come in runs, teaser
    blurbs alternate with headlines."""
    filled = [i for i, ln in enumerate(lines) if ln.text]
    out = list(lines)
    for pos, idx in enumerate(filled):
        line = lines[idx]
        if line.weight <= 0:
            continue
        near = filled[max(0, pos - CONTEXT_LINES) : pos] + filled[pos + 1 : pos + 1 + CONTEXT_LINES]
        share = sum(1 for j in near if lines[j].weight > 0) / len(near) if near else 1.0
        scale = (1 - CONTEXT_WEIGHT) + CONTEXT_WEIGHT * share
        out[idx] = _Line(line.text, line.bullet, line.weight * scale)
    return out


def _cut_off_end_as_prose(lines: list[_Line]) -> list[_Line]:
    """A text cut off mid-sentence (a feed's truncated description or opening, a wire text
    ending in a link or a "-0-" mark) has no line that ends as sentences end. Used only when
    nothing else reads as prose: its last line counts as prose when it is long enough to be
    article text and nothing marks it as chrome."""
    filled = [i for i, ln in enumerate(lines) if ln.text]
    if not filled:
        return lines
    last = lines[filled[-1]]
    if (
        last.bullet
        or words(last.text) < ARTICLE_MIN_WORDS
        or STOP_MARKER.match(last.text)
        or drop_reason(last.text)
        or _DOUBLED.match(last.text)
        or _MARKUP.match(last.text)
    ):
        return lines
    out = list(lines)
    out[filled[-1]] = _Line(last.text, last.bullet, float(len(last.text)))
    return out


def _best_region(lines: Sequence[_Line]) -> tuple[int, int] | None:
    """The run of lines with the most prose net of chrome (maximum-sum subarray)."""
    best, best_span = 0.0, None
    run, start = 0.0, 0
    for idx, line in enumerate(lines):
        if run <= 0:
            run, start = 0.0, idx
        run += line.weight
        if line.weight > 0 and run > best:
            best, best_span = run, (start, idx)
    return best_span


def _byline_name(line: str) -> str | None:
    """The name in "By Jane Doe" (without any date that follows it)."""
    m = re.match(r"^(?:Written\s+)?By[:\s]+(?P<who>.+)$", line)
    if not m:
        return None
    who = m.group("who")
    date = _DATE_ANYWHERE.search(who)
    if date:
        who = who[: date.start()]
    who = re.split(r"\s*[|,•]\s*", who)[0].strip()
    if not who or words(who) > 6 or not _NAME.match(who):
        return None
    return who


def _is_header(line: str) -> bool:
    return bool(
        DATE_LINE.match(line) or _byline_name(line) or DESK_BYLINE.match(line)
    )


def _headline_like(line: _Line) -> bool:
    return (
        not line.bullet
        and TITLE_MIN_WORDS <= words(line.text) <= TITLE_MAX_WORDS
        and not is_prose_sentence_end(line.text)
        and drop_reason(line.text) is None
        and not _DOUBLED.match(line.text)
        and not _MARKUP.match(line.text)
        and not _is_header(line.text)
        and line.weight > -STOP_MARKER_COST
    )


def _standfirst_like(line: _Line) -> bool:
    return (
        not line.bullet
        and PROSE_MIN_WORDS <= words(line.text) <= STANDFIRST_MAX_WORDS
        and drop_reason(line.text) is None
        and not _DOUBLED.match(line.text)
        and not _MARKUP.match(line.text)
        and line.weight > -STOP_MARKER_COST
    )


def _split_names(who: str) -> list[str]:
    return [n.strip() for n in re.split(r",|\band\b|&", who) if n.strip()]


def _text_lines_above(lines: Sequence[_Line], start: int, limit: int) -> Iterator[tuple[int, _Line]]:
    """Up to ``limit`` non-blank lines above index ``start``, nearest first, with their index."""
    seen = 0
    for idx in range(start - 1, -1, -1):
        if seen == limit:
            return
        if lines[idx].text:
            seen += 1
            yield idx, lines[idx]


def clean_capture(text: str) -> Extracted:
    """Title, header, body and credits of a plain-text capture of a news page."""
    lines = _in_context([_classify(raw) for raw in _capture_lines(text)])
    span = _best_region(lines)
    if span is None:
        lines = _cut_off_end_as_prose(lines)
        span = _best_region(lines)
    if span is None:
        short = _short_item(lines)
        if short is not None:
            return short
        raise StageError("no_article", "no article prose in the capture")
    start, end = span

    # Above the body: standfirst, header lines (bylines, dates) and the title.
    header: list[str] = []
    title: str | None = None
    summary: str | None = None
    candidates: list[int] = []
    for idx, line in _text_lines_above(lines, start, HEAD_SCAN_LINES):
        if _is_header(line.text):
            header.append(line.text)
            continue
        if _headline_like(line) or (not candidates and _standfirst_like(line)):
            candidates.append(idx)
            short_headline = _headline_like(line) and words(line.text) < STANDFIRST_MIN_WORDS
            if len(candidates) == 2 or short_headline:
                break
    if candidates:
        first = lines[candidates[0]]
        if len(candidates) == 2 and _headline_like(lines[candidates[1]]) and (
            words(first.text) >= STANDFIRST_MIN_WORDS or not _headline_like(first)
        ):
            summary, title = first.text, lines[candidates[1]].text
            title_at = candidates[1]
        elif _headline_like(first):
            title, title_at = first.text, candidates[0]
        else:
            title_at = start
    else:
        title_at = start
    # Dates, bylines and the site name just above the title belong to the header too.
    above: list[str] = []
    for _, line in _text_lines_above(lines, title_at, ABOVE_TITLE_LINES):
        if _is_header(line.text):
            header.append(line.text)
        elif not line.bullet:
            above.append(line.text)
    header.reverse()

    body: list[str] = []
    credits: list[str] = []
    seen_keys: set[str] = set()
    for line in lines[start : end + 1]:
        if not line.text or line.weight <= -STOP_MARKER_COST:
            continue
        if CREDIT.match(line.text):
            credits.append(line.text)
            continue
        if line.weight < 0:
            if line.bullet or drop_reason(line.text) or _DOUBLED.match(line.text) \
                    or _MARKUP.match(line.text) or words(line.text) < SUBHEAD_MIN_WORDS:
                continue
            if _is_header(line.text):
                header.append(line.text)
                continue
        key = _norm(line.text)
        if len(line.text) >= REPEAT_MIN_CHARS:
            if key in seen_keys:
                continue
            seen_keys.add(key)
        body.append(line.text)
    # Credit lines just after the body ("(Reporting by ...)").
    for line in lines[end + 1 : end + 1 + CREDIT_SCAN_LINES]:
        if line.text and CREDIT.match(line.text):
            credits.append(line.text)
    if not body:
        raise StageError("no_article", "no article prose in the capture")

    everything = [ln.text for ln in lines if ln.text]
    return Extracted(
        title=title,
        text="\n\n".join(body),
        summary=summary,
        authors=_capture_authors(header),
        publisher=_capture_publisher(everything, summary, above, header),
        header=tuple(header),
        credits=tuple(credits),
    )


def _short_item(lines: Sequence[_Line]) -> Extracted | None:
    """A wire headline or brief alone (no prose paragraph): its headline is its text.

    Feeds of headlines and one-line briefs are news items a desk routes; a page
    with at most ``SHORT_ITEM_MAX_LINES`` clean lines, the first reading as a
    headline, is kept rather than dead-lettered. Chrome never qualifies.
    """
    texts = [line for line in lines if line.text]
    if not texts or len(texts) > SHORT_ITEM_MAX_LINES:
        return None
    if any(line.bullet or drop_reason(line.text) or _MARKUP.match(line.text)
           or STOP_MARKER.match(line.text) for line in texts):
        return None
    title = texts[0].text
    if not SHORT_ITEM_MIN_WORDS <= words(title) <= TITLE_MAX_WORDS:
        return None
    body = [line.text for line in texts[1:]] or [title]
    return Extracted(title=title, text="\n\n".join(body))


def _capture_authors(header: Sequence[str]) -> tuple[str, ...]:
    names: list[str] = []
    for line in header:
        who = _byline_name(line)
        desk = DESK_BYLINE.match(line)
        if who:
            names.extend(_split_names(who))
        elif desk:
            names.append(line)
    people = [n for n in names if n not in AGENCIES]
    return tuple(dict.fromkeys(people or names))


def _capture_publisher(
    lines: Sequence[str], summary: str | None, above: Sequence[str], header: Sequence[str]
) -> str | None:
    for line in lines:
        m = SELF_BLURB.match(line)
        if m:
            return m.group("site").strip()
    if summary:
        m = REPORTS_PUBLISHER.search(summary)
        if m:
            return m.group("site")
    for line in above:
        if _SITE_NAME.match(line) and words(line) >= 2 and not _DATE_ANYWHERE.search(line):
            return line
    for line in header:
        m = DESK_BYLINE.match(line)
        if m and m.group("org") not in AGENCIES:
            return m.group("org")
    return None


__all__ = [
    "AGENCIES", "BYLINE", "CREDIT", "DATE_LINE", "DESK_BYLINE", "DROP_LINE", "STOP_MARKER",
    "OTHER_STORIES", "Cleaned", "clean_capture", "clean_paragraphs", "drop_reason", "is_prose",
    "link_key", "teaser_key", "split_title", "title_parts", "words",
]
