"""Syndication detection: find republished copies and point each at one canonical record."""

# How it works
# ------------
# Pure core: a text is normalised (quote styles, HTML entities and a leading
# dateline folded away), cut into word 3-shingles hashed to 32 bits, and
# summarised (``summarise``). A MinHash signature split into many small bands
# (``BANDS`` bands of ``ROWS`` rows) gives the LSH keys: small bands make a
# half-length truncated copy (Jaccard about 0.5) collide in at least one band
# with probability above 0.99, where the usual wide bands (tuned for Jaccard
# 0.8) find it about 5% of the time. Every candidate pair is then checked on the
# exact shingle sets (``compare``) and decided by ``is_same_story``: containment
# of the smaller text in the larger (so a cut-down copy is a copy), with extra
# evidence demanded where the text is short (a shared headline word) or the
# dates are far apart, and an update that is mostly new reporting kept apart.
#
# Which record is canonical (``rank_key``): earliest publication (instant if
# known, else the day, an unknown time counting as the end of its day), then the
# most complete text, then the id.
#
# Batch (``DetectSyndication()``): band keys -> GroupByKey -> candidate pairs
# (each article against the best-ranked members of its buckets) -> a join
# with the summaries -> verified edges -> one resolution step that walks the
# matched articles in rank order: an article becomes a copy of the best-ranked
# *canonical* it directly matches; if it matches only copies, it joins their
# canonical (so chains of updates resolve) and its figures are those of the
# link that placed it. Nothing is merged through a shared neighbour that is
# itself a copy of a different story, and the result does not depend on input
# order or worker count. The resolution step holds the verified edges (about
# one per copy) in memory on one worker.
#
# Streaming (``DetectSyndication(streaming=True, ttl_days=7)``): GroupByKey does
# not fire while a live source runs on the local runner, and one article's
# per-band decisions cannot be combined without it, so every article goes to one
# stateful DoFn (a single shard key) whose state is an LSH index over the
# canonicals seen in the last ``ttl_days`` of event time: a bag of compact
# entries (id, times, agency, shingle hashes, band keys) plus a version token.
# The DoFn keeps a decoded copy of that index in memory and rebuilds it from
# state whenever the version in state differs (a restart, or another worker had
# the key), so the work per article does not grow with the stream. An article
# is a copy when it matches a canonical already written whose last sighting is
# within the TTL of the article's event time (checked on read); otherwise it is
# written as a new canonical. A matched copy refreshes its canonical's last
# sighting, so the TTL runs from the latest copy of a story. State is swept
# by an event-time timer, and the sweep only drops entries older than the
# TTL measured from the smaller of the timer's timestamp and the newest event
# time seen, because the local live runner fires timers early. Each article
# also triggers the same sweep, measured from the newest event time, so state
# stays bounded where the watermark does not move until the input ends. A
# sweep runs once an entry is a day past its TTL, so its cost is amortised.
# Memory is bounded by the canonicals of ``ttl_days + SWEEP_DAYS`` of event
# time. Throughput is that of one key.
#
# A fuller or earlier copy arriving after a shorter one was written: streaming
# output is final (records are not retracted), so the first-written record stays
# canonical and the later, fuller one is emitted as its copy (``syndicated_from``
# names the shorter record; its containment, the share of the copy's shingles
# found in the canonical, is then below 1). The counter
# ``syndication_canonical_outranked`` counts these, and a batch re-run over the
# same pages picks the canonical by ``rank_key`` instead.

from __future__ import annotations

import datetime as _dt
import html
import re
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.coders import StrUtf8Coder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)

from transforms.failures import METRICS_NAMESPACE, count
from transforms.records import Article, Syndication

ARTICLES = "articles"
COPIES = "copies"

# ---------------------------------------------------------------------------
# Thresholds, each with its reason. Calibrated on the dev pairs as a whole.
# ---------------------------------------------------------------------------
# Word 3-shingles: short enough that a lightly edited sentence still shares
# most of its shingles, long enough that common phrases do not make unrelated
# stories look alike.
SHINGLE_WORDS = 3
# 32 bands of 2 rows: a pair with Jaccard 0.5 (a copy cut to half) collides in
# some band with p = 1-(1-0.5^2)^32 > 0.99, Jaccard 0.3 with p ~ 0.95; two
# unrelated texts (Jaccard ~0.01) with p ~ 0.003, and the real check drops them.
BANDS = 32
ROWS = 2
MINHASH_SEED = 20240329  # fixed: band keys must be the same on every worker and run
# At most this many better-ranked members of one bucket are compared with each
# article: a bucket filled by a shared phrase must not make the work quadratic.
MAX_BUCKET_COMPARE = 24
# Below this many shingles in the smaller text, the text alone is thin
# evidence (a two-sentence teaser, a site's stock paragraph).
SHORT_TEXT_SHINGLES = 60
# Containment of the smaller text in the larger for a short text: one re-worded
# sentence moves many shingles of a 30-word item (dev: re-written wire leads
# 0.61-0.8, different stories on one topic 0.25).
MIN_CONTAINMENT_SHORT = 0.55
# For longer texts: edited versions keep 0.7 and more; different stories that
# share background paragraphs reach about 0.6.
MIN_CONTAINMENT_LONG = 0.66
# Short texts also need a content word in common between the headlines when
# both have one: the same stock paragraph under unrelated headlines is a
# site's boilerplate, not the same story.
MIN_TITLE_WORDS_SHARED = 1
# Publication days further apart than this need a near-verbatim text.
MAX_DAYS_APART = 30
MIN_CONTAINMENT_FAR_DATES = 0.9
# A later, longer version whose text is mostly new is a new story building on
# the old one (substantial new reporting), not a copy.
MAX_NEW_SHARE_OF_UPDATE = 0.5
# Streaming: state is swept when its oldest entry is this far past the TTL,
# so each sweep (which rewrites the bag) drops about a day of entries.
SWEEP_DAYS = 1.0
STREAM_SHARD = "syndication"  # the single shard key (see module docstring)

MS_PER_DAY = 86_400_000
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or says said that the"
    " this to was were will with after over new now not no up out us s".split()
)

# ---------------------------------------------------------------------------
# Normalisation and shingles
# ---------------------------------------------------------------------------
_AGENCIES = r"(?:Reuters|AP|AFP|Yonhap|ANI|KCNA|UPI|IANS|PTI|Xinhua|dpa|Kyodo|Bernama|EFE|ANSA)"
# A leading dateline: "SEOUL (Reuters) -", "MANHATTAN, Kan. --", "Reuters -",
# "SEOUL —", "REAL:". Place names are upper-case so a sentence start is kept.
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][A-Z.'/ -]{1,40}(?:,\s*[A-Z][A-Za-z.]*(?: [A-Z][A-Za-z.]*){0,2})?"
    r"(?:\s+[A-Z][a-z]{2,3}\.? \d{1,2}(?:,\s*\d{4})?)?\s*(?:\(\s*" + _AGENCIES + r"[^)]{0,20}\))?"
    r"|" + _AGENCIES + r")\s*(?:--|-|–|—|:)\s+"
)
# One str.replace per quote: str.translate with a table is ~100x slower on non-ASCII text.
_QUOTES = (("’", "'"), ("‘", "'"), ("`", "'"), ("´", "'"), ("“", '"'), ("”", '"'))
_LOST_APOSTROPHE = re.compile(r"\s?#39;")
_LOST_QUOTE = re.compile(r"\s?quot;")
_MARKUP = re.compile(r"<[^<>]*>")  # not [^>]*: from each "<" to the end, quadratic
_POSSESSIVE = re.compile(r"'s\b")
_TOKEN = re.compile(r"[a-z0-9]+")
# The same tokens in the text encoded as ASCII with "?" for the rest ("?" is not a
# token character, so tokens split where they did): bytes go straight to crc32.
_TOKEN_BYTES = re.compile(rb"[a-z0-9]+")
_U64 = np.uint64


def _normalised(text: str) -> str:
    """Lower-case text with quotes, entities, markup and a leading dateline folded away."""
    text = text.replace("\\", " ")
    # Feeds that lost the "&" of an entity (" #39;s", "quot;"). Each substitution is
    # skipped when its literal is absent: a leading optional \s makes the regex scan slow.
    if "#39;" in text:
        text = _LOST_APOSTROPHE.sub("'", text)
    if "quot;" in text:
        text = _LOST_QUOTE.sub('"', text)
    text = html.unescape(html.unescape(text))
    if "<" in text:
        text = _MARKUP.sub(" ", text)
    text = _DATELINE.sub("", text, count=1)
    for quote, plain in _QUOTES:
        if quote in text:
            text = text.replace(quote, plain)
    text = text.lower()
    if "'" in text:
        text = _POSSESSIVE.sub("", text)  # possessives: "Japan's" and "Japan" are one word
        text = text.replace("'", "")
    return text


def normalise_words(text: str | None) -> list[str]:
    """Lower-case words with quotes, entities, markup and a leading dateline folded away."""
    if not text:
        return []
    return _TOKEN.findall(_normalised(text))


def _word_bytes(text: str | None) -> list[bytes]:
    """``normalise_words`` as ASCII bytes, ready for crc32."""
    if not text:
        return []
    return _TOKEN_BYTES.findall(_normalised(text).encode("ascii", errors="replace"))


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads word-combination hashes over 64 bits."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> _U64(30))
        x = x * _U64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> _U64(27))
        x = x * _U64(0x94D049BB133111EB)
        return x ^ (x >> _U64(31))


def shingles(words: list[str], k: int = SHINGLE_WORDS) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word k-shingles (one shingle if fewer words)."""
    # crc32 is stable across processes and runs (Python's hash() is not).
    return _shingle_hashes([w.encode() for w in words], k)


def _shingle_hashes(words: list[bytes], k: int = SHINGLE_WORDS) -> np.ndarray:
    """``shingles`` of words already encoded as UTF-8."""
    if not words:
        return np.zeros(0, dtype=np.uint32)
    ids = np.fromiter(map(zlib.crc32, words), dtype=np.uint64, count=len(words))
    n = max(1, len(words) - k + 1)
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(min(k, len(words))):
            acc *= _U64(0x100000001B3)
            acc ^= ids[j : j + n]
    return _sorted_unique((_mix64(acc) >> _U64(32)).astype(np.uint32))


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-d array: sort and keep the first of each run (10x faster here)."""
    values = np.sort(values)
    if values.size < 2:
        return values
    first = np.empty(values.size, dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return values[first]


_rng = np.random.default_rng(MINHASH_SEED)
_MH_A = (_rng.integers(1, 2**63, size=BANDS * ROWS, dtype=np.uint64) * _U64(2) + _U64(1))[:, None]
_MH_B = _rng.integers(0, 2**63, size=BANDS * ROWS, dtype=np.uint64)[:, None]


def minhash(shingle_hashes: np.ndarray) -> np.ndarray:
    """MinHash signature (BANDS*ROWS values) by multiply-shift hashing of the shingles."""
    if shingle_hashes.size == 0:
        return np.zeros(0, dtype=np.uint32)
    x = shingle_hashes.astype(np.uint64)[None, :]
    with np.errstate(over="ignore"):
        h = _MH_A * x
        h += _MH_B  # in place: one (BANDS*ROWS, n) buffer, not three
    # The shift is monotone, so it can follow the min and run on BANDS*ROWS values only.
    return (h.min(axis=1) >> _U64(32)).astype(np.uint32)


def band_keys(signature: np.ndarray) -> tuple[str, ...]:
    """LSH keys, one per band: "band:hash of its rows"."""
    if signature.size == 0:
        return ()
    # Big-endian bytes in hex: each value as 8 lower-case digits, in one C call.
    digits = signature.astype(">u4").tobytes().hex()
    width = 8 * ROWS
    return tuple(f"{b}:{digits[b * width : (b + 1) * width]}" for b in range(BANDS))


def title_words(title: str | None) -> frozenset[str]:
    return frozenset(w for w in normalise_words(title) if w not in _STOPWORDS)


# ---------------------------------------------------------------------------
# Summaries, comparison and the decision
# ---------------------------------------------------------------------------
def _day_ordinal(date: str | None) -> int | None:
    try:
        return _dt.date.fromisoformat(date).toordinal() if date else None
    except ValueError:
        return None


_UNKNOWN_TIME = 2**62  # sorts after any instant in epoch ms


def rank_key(article: Article, word_count: int | None = None) -> tuple:
    """Canonical order: earliest publication, then the longer text, then the id (smaller wins).

    ``word_count`` is ``len(normalise_words(article.text))`` when the caller has it already.
    """
    pub = article.published
    day = _day_ordinal(pub.date) if pub else None
    if day is None:
        when: tuple = (1, 0, 0)  # undated pages rank after every dated one
    else:
        # A known instant orders pages within the day; an unknown time counts
        # as the day's end, since a page that states its time is more likely
        # the original than a copy dated by day only.
        instant = pub.instant_ms
        when = (0, day, instant if instant is not None else _UNKNOWN_TIME)
    if word_count is None:
        word_count = len(normalise_words(article.text))
    return (*when, -word_count, article.id)


@dataclass(frozen=True)
class Summary:
    """What dedup keeps of an article: enough to compare, rank and label it."""

    id: str
    rank: tuple
    day: int | None
    shingles: np.ndarray  # sorted unique uint32
    title_words: frozenset[str]
    bands: tuple[str, ...]
    agency: str | None = None

    @property
    def size(self) -> int:
        return int(self.shingles.size)


def summarise(article: Article) -> Summary:
    words = _word_bytes(article.text)
    sh = _shingle_hashes(words)
    pub = article.published
    return Summary(
        id=article.id,
        rank=rank_key(article, len(words)),  # the words once: normalising is a third of this
        day=_day_ordinal(pub.date) if pub else None,
        shingles=sh,
        title_words=title_words(article.title),
        bands=band_keys(minhash(sh)),
        agency=article.agency,
    )


def compare(a: Summary | np.ndarray, b: Summary | np.ndarray) -> tuple[float, float]:
    """(Jaccard similarity, containment of the smaller shingle set in the larger)."""
    sa = a.shingles if isinstance(a, Summary) else a
    sb = b.shingles if isinstance(b, Summary) else b
    if sa.size == 0 or sb.size == 0:
        return 0.0, 0.0
    inter = int(np.intersect1d(sa, sb, assume_unique=True).size)
    union = sa.size + sb.size - inter
    return inter / union, inter / min(sa.size, sb.size)


def is_same_story(
    a: Summary, b: Summary, similarity: float | None = None, containment: float | None = None
) -> bool:
    """Whether ``a`` and ``b`` report the same story (one a copy or light edit of the other)."""
    if similarity is None or containment is None:
        similarity, containment = compare(a, b)
    small, large = (a, b) if a.size <= b.size else (b, a)
    if small.size == 0:
        return False
    short = small.size < SHORT_TEXT_SHINGLES
    if containment < (MIN_CONTAINMENT_SHORT if short else MIN_CONTAINMENT_LONG):
        return False
    if short and a.title_words and b.title_words:
        if len(a.title_words & b.title_words) < MIN_TITLE_WORDS_SHARED:
            return False
    if a.day is not None and b.day is not None:
        if abs(a.day - b.day) > MAX_DAYS_APART and containment < MIN_CONTAINMENT_FAR_DATES:
            return False
        # The larger published strictly later and mostly new: an update with
        # substantial new reporting. (A larger page published first is the
        # original, and the smaller a cut-down copy.)
        if _published_after(large, small):
            inter = containment * small.size
            if 1.0 - inter / large.size > MAX_NEW_SHARE_OF_UPDATE:
                return False
    return True


def _published_after(a: Summary, b: Summary) -> bool:
    """Whether ``a`` is known to be published after ``b`` (a later day, or a later instant)."""
    if a.day is None or b.day is None or a.day != b.day:
        return a.day is not None and b.day is not None and a.day > b.day
    a_instant, b_instant = a.rank[2], b.rank[2]
    return a_instant < _UNKNOWN_TIME and b_instant < _UNKNOWN_TIME and a_instant > b_instant


def syndication(copy: Summary, canonical: Summary) -> Syndication:
    """The record a copy carries: its canonical, Jaccard, and its share found in the canonical."""
    sim, _ = compare(copy, canonical)
    inter = int(np.intersect1d(copy.shingles, canonical.shingles, assume_unique=True).size)
    return Syndication(
        canonical_id=canonical.id,
        similarity=round(sim, 4),
        containment=round(inter / copy.size, 4) if copy.size else 0.0,
    )


def resolve(edges: Iterable[tuple[str, tuple, str, tuple, Syndication, str | None]]) -> dict:
    """Canonical of every matched article, from verified edges (worse, its rank, better, ...).

    Articles are walked in rank order; each becomes a copy of the best-ranked
    canonical it directly matches, or, matching only copies, joins the
    canonical of the best-ranked of them. Returns ``{id: (Syndication, agency)}``
    for the copies only.
    """
    better_of: dict[str, list[tuple[tuple, str, Syndication, str | None]]] = {}
    ranks: dict[str, tuple] = {}
    for worse, worse_rank, better, better_rank, synd, better_agency in edges:
        ranks[worse], ranks[better] = worse_rank, better_rank
        better_of.setdefault(worse, []).append((better_rank, better, synd, better_agency))
    result: dict[str, tuple[Syndication, str | None]] = {}
    for node in sorted(ranks, key=ranks.__getitem__):
        options = sorted(better_of.get(node, ()), key=lambda o: (o[0], o[1]))
        direct = [o for o in options if o[1] not in result]
        if direct:
            _, canon, synd, agency = direct[0]
            result[node] = (synd, agency)
        elif options:
            _, via, synd, _ = options[0]
            root_synd, agency = result[via]
            result[node] = (replace(synd, canonical_id=root_synd.canonical_id), agency)
    return result


def as_copy(article: Article, synd: Syndication, canonical_agency: str | None) -> Article:
    return replace(article, syndicated_from=synd, agency=article.agency or canonical_agency)


# ---------------------------------------------------------------------------
# Batch
# ---------------------------------------------------------------------------
def _bucket_pairs(bucket: tuple[str, Iterable[tuple[tuple, str]]]) -> Iterator[tuple[str, str]]:
    """Candidate pairs (worse id, better id) of one LSH bucket."""
    _, members = bucket
    ranked = sorted(set(members))
    for i in range(1, len(ranked)):
        for j in range(min(i, MAX_BUCKET_COMPARE)):
            yield ranked[i][1], ranked[j][1]


def _attach_first(joined: tuple[str, dict]) -> Iterator[tuple[str, tuple]]:
    worse_id, groups = joined
    summaries = list(groups["summary"])
    if not summaries:
        return
    for better_id in sorted(set(groups["pairs"])):
        yield better_id, summaries[0]


def _verify(joined: tuple[str, dict]) -> Iterator[tuple]:
    _, groups = joined
    summaries = list(groups["summary"])
    if not summaries:
        return
    better = summaries[0]
    for worse in groups["pairs"]:
        sim, cont = compare(worse, better)
        if is_same_story(worse, better, sim, cont):
            yield (worse.id, worse.rank, better.id, better.rank, syndication(worse, better),
                   better.agency)


def _resolve_all(keyed: tuple[int, Iterable[tuple]]) -> Iterator[tuple[str, tuple]]:
    yield from resolve(keyed[1]).items()


def _split(joined: tuple[str, dict]) -> Iterator[Any]:
    _, groups = joined
    verdicts = list(groups["verdict"])
    for article in groups["article"]:
        if verdicts:
            synd, agency = verdicts[0]
            count("syndicated_copies")
            yield TaggedOutput(COPIES, as_copy(article, synd, agency))
        else:
            yield article


def _is_paired(article: Article, paired_ids: dict[str, None]) -> bool:
    return article.id in paired_ids


def _band_entries(s: Summary) -> Iterator[tuple[str, tuple[tuple, str]]]:
    for key in set(s.bands):
        yield key, (s.rank, s.id)


class _Batch(beam.PTransform):
    def expand(self, articles):
        keyed = articles | "KeyById" >> beam.Map(lambda a: (a.id, a)).with_output_types(
            tuple[str, Any])
        summaries = articles | "Summarise" >> beam.Map(summarise)
        pairs = (
            summaries
            | "BandKeys" >> beam.FlatMap(_band_entries).with_output_types(tuple[str, Any])
            | "GroupBuckets" >> beam.GroupByKey()
            | "CandidatePairs" >> beam.FlatMap(_bucket_pairs).with_output_types(tuple[str, str])
            | "DistinctPairs" >> beam.Distinct()
        )
        # Only articles in some candidate pair need their summary joined: in a run with few
        # copies that is a small share. The summaries are made again for those (from the
        # articles, which wait for the verdicts anyway) rather than kept for every article:
        # less state on a local runner and less data between workers.
        paired_ids = (
            pairs
            | "PairedIds" >> beam.FlatMap(lambda pair: [(pair[0], None), (pair[1], None)])
            | "DistinctIds" >> beam.Distinct()
        )
        by_id = (
            articles
            | "OnlyPaired" >> beam.Filter(_is_paired, beam.pvalue.AsDict(paired_ids))
            | "SummarisePaired" >> beam.Map(summarise)
            | "SummaryById" >> beam.Map(lambda s: (s.id, s)).with_output_types(tuple[str, Any])
        )
        halves = (
            {"summary": by_id, "pairs": pairs}
            | "JoinWorse" >> beam.CoGroupByKey()
            | "KeyByBetter" >> beam.FlatMap(_attach_first).with_output_types(tuple[str, Any])
        )
        verdicts = (
            {"summary": by_id, "pairs": halves}
            | "JoinBetter" >> beam.CoGroupByKey()
            | "Verify" >> beam.FlatMap(_verify)
            # One resolution over all verified edges (about one per copy): the
            # greedy walk in rank order needs every edge of a story together.
            | "OneKey" >> beam.Map(lambda e: (0, e)).with_output_types(tuple[int, Any])
            | "AllEdges" >> beam.GroupByKey()
            | "Resolve" >> beam.FlatMap(_resolve_all).with_output_types(tuple[str, Any])
        )
        return (
            {"article": keyed, "verdict": verdicts}
            | "JoinVerdicts" >> beam.CoGroupByKey()
            | "Split" >> beam.FlatMap(_split).with_outputs(COPIES, main=ARTICLES)
        )


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    """A canonical kept in streaming state."""

    id: str
    first_ms: int
    last_ms: int
    agency: str | None
    day: int | None
    rank: tuple
    shingles: bytes
    title_words: tuple[str, ...]
    bands: tuple[str, ...]

    def summary(self) -> Summary:
        return Summary(self.id, self.rank, self.day, np.frombuffer(self.shingles, dtype=np.uint32),
                       frozenset(self.title_words), self.bands, self.agency)


class _Index:
    """Decoded mirror of one key's state: entries by id and by band key."""

    def __init__(self, version: str, records: Iterable[tuple]):
        self.version = version
        self.entries: dict[str, _Entry] = {}
        self.summaries: dict[str, Summary] = {}
        self.buckets: dict[str, list[str]] = {}
        for record in records:
            self.apply(record)

    def apply(self, record: tuple) -> None:
        kind = record[0]
        if kind == "entry":
            entry: _Entry = record[1]
            self.entries[entry.id] = entry
            self.summaries[entry.id] = entry.summary()
            for key in entry.bands:
                bucket = self.buckets.setdefault(key, [])
                if entry.id not in bucket:
                    bucket.append(entry.id)
        elif kind == "touch":
            _, entry_id, ms = record
            entry = self.entries.get(entry_id)
            if entry is not None and ms > entry.last_ms:
                self.entries[entry_id] = replace(entry, last_ms=ms)

    def candidates(self, bands: Iterable[str]) -> list[str]:
        seen: dict[str, None] = {}
        for key in bands:
            # The newest members of a crowded bucket: an old story that shares
            # a stock phrase must not make each article's work grow.
            for entry_id in self.buckets.get(key, ())[-MAX_BUCKET_COMPARE:]:
                seen.setdefault(entry_id, None)
        return list(seen)


_RECORDS = BagStateSpec("records", beam.coders.PickleCoder())
_VERSION = ReadModifyWriteStateSpec("version", StrUtf8Coder())
_NEWEST = ReadModifyWriteStateSpec("newest_ms", VarIntCoder())
_OLDEST = ReadModifyWriteStateSpec("oldest_ms", VarIntCoder())
_ARMED = ReadModifyWriteStateSpec("armed", StrUtf8Coder())
_SWEEP = TimerSpec("sweep", TimeDomain.WATERMARK)
# Parameter markers as module singletons (ruff B008: no calls in defaults).
_RECORDS_P = beam.DoFn.StateParam(_RECORDS)
_VERSION_P = beam.DoFn.StateParam(_VERSION)
_NEWEST_P = beam.DoFn.StateParam(_NEWEST)
_OLDEST_P = beam.DoFn.StateParam(_OLDEST)
_ARMED_P = beam.DoFn.StateParam(_ARMED)
_SWEEP_P = beam.DoFn.TimerParam(_SWEEP)


# How many canonicals the streaming state holds, seen after each article.
_STATE_ENTRIES = Metrics.distribution(METRICS_NAMESPACE, "syndication_state_entries")


def _token() -> str:
    # A fresh token per state write tells this instance's decoded index apart
    # from state written elsewhere (another worker, a retried bundle). It only
    # decides when to re-read state, never what is output.
    return uuid.uuid4().hex


class _StreamingSyndication(beam.DoFn):

    def __init__(self, ttl_days: float):
        self._ttl_ms = int(ttl_days * MS_PER_DAY)
        self._sweep_ms = int(SWEEP_DAYS * MS_PER_DAY)
        self._index: dict[str, _Index] = {}

    def setup(self) -> None:
        self._index = {}

    def _mirror(self, key: str, version_state, records_state) -> _Index:
        version = version_state.read() or ""
        index = self._index.get(key)
        if index is None or index.version != version:
            index = _Index(version, records_state.read())
            self._index[key] = index
        return index

    def _append(self, key, index, record, version_state, records_state) -> None:
        records_state.add(record)
        index.apply(record)
        index.version = _token()
        version_state.write(index.version)

    def process(
        self,
        element: tuple[str, Article],
        timestamp=beam.DoFn.TimestampParam,
        records_state=_RECORDS_P,
        version_state=_VERSION_P,
        newest_state=_NEWEST_P,
        oldest_state=_OLDEST_P,
        armed_state=_ARMED_P,
        sweep_timer=_SWEEP_P,
    ) -> Iterator[Any]:
        key, article = element
        now_ms = timestamp.micros // 1000
        index = self._mirror(key, version_state, records_state)
        mine = summarise(article)

        best: tuple | None = None
        for entry_id in index.candidates(mine.bands):
            entry = index.entries[entry_id]
            # On-read TTL check against this article's event time: timers may
            # not have swept yet (and fire early on the local live runner).
            if now_ms > entry.last_ms + self._ttl_ms or now_ms < entry.first_ms - self._ttl_ms:
                continue
            other = index.summaries[entry_id]
            sim, cont = compare(mine, other)
            if is_same_story(mine, other, sim, cont):
                # The earliest-written canonical wins; its id breaks ties.
                order = (entry.first_ms, entry.id)
                if best is None or order < best[0]:
                    best = (order, entry, other)

        if best is not None:
            _, entry, other = best
            if mine.rank < other.rank:
                count("syndication_canonical_outranked")
            count("syndicated_copies")
            self._append(key, index, ("touch", entry.id, now_ms), version_state, records_state)
            yield TaggedOutput(COPIES, as_copy(article, syndication(mine, other), entry.agency))
        else:
            new = _Entry(
                id=mine.id, first_ms=now_ms, last_ms=now_ms, agency=mine.agency, day=mine.day,
                rank=mine.rank, shingles=mine.shingles.tobytes(),
                title_words=tuple(sorted(mine.title_words)), bands=mine.bands,
            )
            self._append(key, index, ("entry", new), version_state, records_state)
            oldest = oldest_state.read()
            if oldest is None or now_ms < oldest:
                oldest_state.write(now_ms)
            yield article

        newest = newest_state.read()
        if newest is None or now_ms > newest:
            newest_state.write(now_ms)
            newest = now_ms
        # Swept here as well as by the timer: where the watermark does not move
        # until the input ends (a bounded input on the local runner), the
        # newest event time still bounds the state.
        self._sweep_state(key, newest, records_state, version_state, oldest_state)
        _STATE_ENTRIES.update(len(self._index[key].entries))
        if armed_state.read() is None:
            oldest = oldest_state.read()
            if oldest is not None:
                sweep_timer.set(
                    beam.utils.timestamp.Timestamp(
                        micros=(oldest + self._ttl_ms + self._sweep_ms) * 1000)
                )
                armed_state.write("1")

    @on_timer(_SWEEP)
    def _sweep(
        self,
        key=beam.DoFn.KeyParam,
        fired=beam.DoFn.TimestampParam,
        records_state=_RECORDS_P,
        version_state=_VERSION_P,
        newest_state=_NEWEST_P,
        oldest_state=_OLDEST_P,
        armed_state=_ARMED_P,
    ) -> Iterator[Any]:
        armed_state.clear()  # the next article re-arms the timer
        newest = newest_state.read()
        if newest is not None:
            # An early firing (local live runner) must not drop entries still
            # in the TTL: measure from the newest event actually seen, never
            # beyond it.
            horizon = min(fired.micros // 1000, newest)
            self._sweep_state(key, horizon, records_state, version_state, oldest_state)
        return
        yield  # a generator, so the runner accepts it as an on_timer callback

    def _sweep_state(self, key, horizon_ms, records_state, version_state, oldest_state) -> None:
        """Drop entries last seen more than the TTL before ``horizon_ms``, a day at a time."""
        oldest = oldest_state.read()
        cutoff = horizon_ms - self._ttl_ms
        if oldest is None or oldest + self._sweep_ms > cutoff:
            return  # nothing a day past its TTL yet: keeps the sweep amortised
        index = self._mirror(key, version_state, records_state)
        keep = [e for e in index.entries.values() if e.last_ms >= cutoff]
        records_state.clear()
        for entry in keep:
            records_state.add(("entry", entry))
        fresh = _Index(_token(), [("entry", e) for e in keep])
        self._index[key] = fresh
        version_state.write(fresh.version)
        count("syndication_state_swept", len(index.entries) - len(keep))
        if keep:
            oldest_state.write(min(e.last_ms for e in keep))
        else:
            oldest_state.clear()


class _Streaming(beam.PTransform):
    def __init__(self, ttl_days: float):
        super().__init__()
        self._ttl_days = ttl_days

    def expand(self, articles):
        return (
            articles
            | "OneShard" >> beam.Map(lambda a: (STREAM_SHARD, a)).with_output_types(
                tuple[str, Any])
            | "MatchAgainstState" >> beam.ParDo(_StreamingSyndication(self._ttl_days)).with_outputs(
                COPIES, main=ARTICLES)
        )


class DetectSyndication(beam.PTransform):
    """Split articles into canonical ones (tag "articles") and syndicated copies (tag "copies")."""

    def __init__(self, streaming: bool = False, ttl_days: float = 7.0, label: str | None = None):
        super().__init__(label)
        if ttl_days <= 0:
            raise ValueError("ttl_days must be positive")
        self._streaming = streaming
        self._ttl_days = ttl_days

    def expand(self, articles):
        if self._streaming:
            return articles | "Streaming" >> _Streaming(self._ttl_days)
        return articles | "Batch" >> _Batch()
