"""Immutable records that flow between the pipeline's stages.

Every stage takes one of these and returns a new one (``dataclasses.replace``);
nothing is mutated in place, as Beam requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Stage names, as written in dead letters and counters.
STAGE_READ = "read"
STAGE_DECODE = "decode"
STAGE_EXTRACT = "extract"
STAGE_DATELINES = "datelines"
STAGE_DATES = "dates"
STAGE_TOPICS = "topics"
STAGE_DEDUP = "dedup"
STAGE_WRITE = "write"

# Kinds of page body.
KIND_HTML = "html"
KIND_TEXT = "text"

# Certainty of a publication date, strongest first (Avro enum in schemas/article.avsc).
TIME_WITH_ZONE = "TIME_WITH_ZONE"
TIME_NO_ZONE = "TIME_NO_ZONE"
DAY = "DAY"
INFERRED_DAY = "INFERRED_DAY"
CERTAINTIES = (TIME_WITH_ZONE, TIME_NO_ZONE, DAY, INFERRED_DAY)


@dataclass(frozen=True)
class Page:
    """One raw page as read: a file, or one line of a JSON Lines file."""

    source: str  # file path, or "path:line" for a JSON line
    body: bytes  # raw bytes as read (already un-gzipped)
    size_bytes: int  # size of the body as stored (before gunzip)
    url: str | None = None
    declared_kind: str | None = None  # KIND_HTML / KIND_TEXT when the input says so
    fetched_at: str | None = None  # ISO 8601, from the crawler or the file's mtime
    # (reason, error) when the source could not read it: it becomes a dead letter, stage read.
    failure: tuple[str, str] | None = None
    charset: str | None = None  # the transport's charset (HTTP Content-Type): a hint for decode


@dataclass(frozen=True)
class Document:
    """A page decoded to text and classified as HTML or a text capture."""

    id: str  # stable: derived from url and content, never from run or order
    source: str
    kind: str  # KIND_HTML or KIND_TEXT
    content: str
    size_bytes: int
    url: str | None = None
    fetched_at: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class Extracted:
    """What main-text extraction found on one page (HTML or text capture)."""

    title: str | None
    text: str  # article body, paragraphs separated by "\n\n"
    summary: str | None = None  # standfirst, not repeated in text
    authors: tuple[str, ...] = ()
    publisher: str | None = None  # site or publication name as the page gives it
    language: str | None = None  # ISO 639-1
    header: tuple[str, ...] = ()  # lines above the body that were dropped (bylines, date lines)
    credits: tuple[str, ...] = ()  # credit lines dropped from the body ("(Reporting by ...)")


@dataclass(frozen=True)
class Dateline:
    place: str | None
    agency: str | None
    raw: str


@dataclass(frozen=True)
class Published:
    date: str  # YYYY-MM-DD, as the publisher dated it (local day)
    time: str | None  # HH:MM local
    utc_offset: str | None  # "+09:00"
    instant_ms: int | None  # epoch millis, only when date, time and zone are known
    certainty: str  # one of CERTAINTIES
    evidence: str  # where it was read from, e.g. "json-ld:datePublished"


@dataclass(frozen=True)
class MentionedDay:
    phrase: str
    date: str  # YYYY-MM-DD


@dataclass(frozen=True)
class TopicHit:
    topic: str
    score: float  # in [0, 1]
    reasons: tuple[str, ...]  # terms and rules that fired, for the desk


@dataclass(frozen=True)
class Syndication:
    canonical_id: str
    similarity: float  # Jaccard of word shingles
    containment: float  # share of the copy's shingles found in the canonical


@dataclass(frozen=True)
class Article:
    """An article on its way through the stages, and finally one output record."""

    id: str
    source: str
    kind: str
    url: str | None
    title: str | None
    text: str
    summary: str | None = None
    publisher: str | None = None
    authors: tuple[str, ...] = ()
    agency: str | None = None
    dateline: Dateline | None = None
    published: Published | None = None
    mentioned_days: tuple[MentionedDay, ...] = ()
    language: str | None = None
    topics: tuple[TopicHit, ...] = ()  # strongest first; only those over the threshold
    topic_scores: tuple[tuple[str, float], ...] = ()  # every topic of the taxonomy
    syndicated_from: Syndication | None = None
    fetched_at: str | None = None
    size_bytes: int = 0
    # Transient: what later stages still need from the page; cleared before writing.
    document: str | None = field(default=None, repr=False, compare=False)
    header: tuple[str, ...] = field(default=(), repr=False)
    credits: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class DeadLetter:
    source: str
    stage: str
    reason: str  # stable reason code, e.g. "no_article", "timeout", "too_large"
    error: str
    excerpt: str
    size_bytes: int


class StageError(Exception):
    """A page cannot go through a stage; becomes a dead letter with ``reason``."""

    def __init__(self, reason: str, message: str = "", stage: str | None = None):
        super().__init__(message or reason)
        self.reason = reason
        self.stage = stage  # when not the stage that raised it (a source's failure, seen at decode)
