"""Syndication detection: find republished copies and point each at one canonical record."""

# How it works
# ------------
# Pure core: a text is normalised (quote styles, HTML entities and a leading
# dateline folded away, NFKC), read as words in any script (Han, kana, Hangul,
# Thai and the like as overlapping character bigrams, see ``_BIGRAM_SCRIPTS``),
# cut into 3-shingles of those tokens hashed to 32 bits, and
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
# Batch (``DetectSyndication()``): each article, its record and its band values
# parked in a claim file -> each band's values gathered by reference ->
# candidate pairs (each article against the best-ranked members of its buckets)
# -> each pair's two records (shingles, rank, title words) meet under the pair's
# key -> verified edges -> one resolution step that walks the
# matched articles in rank order: an article becomes a copy of the best-ranked
# *canonical* it directly matches; if it matches only copies, it joins their
# canonical (so chains of updates resolve) and its figures are those of the
# link that placed it. Nothing is merged through a shared neighbour that is
# itself a copy of a different story, and the result does not depend on input
# order or worker count. The resolution step holds the verified edges (about
# one per copy) in memory on one worker. The verdicts (one per copy) then meet
# the articles' references, and each claim file's articles are read back in
# file order (see "Batch" below for what crosses each shuffle). Byte-identical pages share their id (it is the
# content's): the first by source is the article, the others its exact copies
# (similarity 1.0), so no id is written twice as an article.
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
import hashlib
import html
import itertools
import pickle
import re
import struct
import tempfile
import unicodedata
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.coders import StrUtf8Coder, VarIntCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.windowed_value import WindowedValue

from transforms import claimcheck
from transforms.failures import METRICS_NAMESPACE, count
from transforms.records import Article, Syndication

ARTICLES = "articles"
COPIES = "copies"
BAND_REFS = "band_refs"

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
# Batch: a bundle parks a band's LSH entries (33 bytes an article) in its claim file once
# this many bytes have gathered, so its memory is BANDS times this, whatever its size.
BAND_FLUSH_BYTES = 64 * 1024

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
# Scripts read as overlapping character bigrams rather than words. Han (Chinese,
# Japanese kanji), kana, Thai, Lao, Khmer, Myanmar and Tibetan are written without
# spaces between words. Hangul is written with spaces, but a Korean word carries its
# particles and verb endings, which edited copies change ("북한이" / "북한은"): on the
# Korean stories of tests/fixtures/syndication_cjk.json, an edit of seven endings keeps
# containment 0.87 as bigrams and 0.77 as words, while different stories share at most
# 0.22 as bigrams (0.16 as words), far below the 0.55-0.66 thresholds.
_BIGRAM_SCRIPTS = (
    "\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3005"
    "\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\U00020000-\U0003134f"
)
# Combining marks that belong inside words (Python's \w leaves out category M):
# Latin diacritics not composed by NFKC, Arabic vowel marks, the Indic scripts' vowel signs.
_MARKS = "\u0300-\u036f\u064b-\u065f\u0670\u0900-\u0dff"
# A run of letters of a bigram script, or a word of letters, digits and marks in any other
# script. Each alternative is a character class, a run of it, or a one-character
# look-ahead: the cost is linear in the text.
_UNICODE_TOKEN = re.compile(f"([{_BIGRAM_SCRIPTS}]+)|(?:(?![{_BIGRAM_SCRIPTS}])[^\\W_]|[{_MARKS}])+")


def _unicode_tokens(text: str) -> list[str]:
    """Words of ``text`` in any script; a run in a bigram script as overlapping bigrams.

    Character bigrams stand in for the words such scripts do not mark (as in Lucene's
    CJK analyser): three-token shingles over them are 4-character windows, which two
    different stories on one topic rarely share, while a copy keeps them all.
    """
    tokens: list[str] = []
    for m in _UNICODE_TOKEN.finditer(text):
        run = m.group(1)
        if run is None:
            tokens.append(m.group(0))
        elif len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


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
    if not text.isascii():
        # Full-width letters and digits (common in Japanese and Chinese pages) and
        # compatibility forms read as their plain letters, so a copy that converted
        # them still matches.
        text = unicodedata.normalize("NFKC", text)
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
    """Lower-case words in any script with quotes, entities, markup and a dateline folded away.

    Runs of Han, kana, Hangul, Thai (``_BIGRAM_SCRIPTS``) become overlapping character
    bigrams."""
    if not text:
        return []
    text = _normalised(text)
    if text.isascii():
        return _TOKEN.findall(text)
    return _unicode_tokens(text)


def _word_bytes(text: str | None) -> list[bytes]:
    """``normalise_words`` as UTF-8 bytes, ready for crc32."""
    if not text:
        return []
    text = _normalised(text)
    if text.isascii():
        # Most pages: one C call from text to the byte tokens.
        return _TOKEN_BYTES.findall(text.encode("ascii"))
    return [w.encode() for w in _unicode_tokens(text)]


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
# What crosses a GroupByKey is held by the runner until the consuming stage has
# run (the local runner keeps it in its own memory, encoded and decoded, several
# times its encoded size; a cluster runner pays for the bytes it shuffles), so
# only compact bytes cross them:
#   - the article (pickled and compressed, ~3 KB), its verification record
#     (its shingles, ~4 bytes a word) and its LSH band entries (BANDS fixed
#     33-byte entries: band value, packed rank, id hash) are parked once in a
#     claim file (``transforms/claimcheck.py``) by the stage that summarises it;
#     only references (file, offset, length) cross the shuffles;
#   - LSH: each band's references (a few per bundle) meet under the band's index,
#     and its entries are read back and paired;
#   - verification: the candidate pairs' two record references meet under the
#     pair's key, and the pair's check reads the two records back;
#   - the article references meet the verdicts (a copy's Syndication), are then
#     grouped by claim file, and each file's articles are read back in file order.
_ENTRY = struct.Struct(">Q17sQ")  # band value, packed rank, id hash
_RANK = struct.Struct(">BIQI")  # dated flag, day, instant + 2**63, 2**32-1 - word count


def _id_hash(article_id: str) -> int:
    """A 63-bit key for an id (a signed 64-bit int, as runners' integer coders take; two ids
    sharing one are still told apart where their records meet)."""
    digest = hashlib.blake2b(article_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _packed_rank(rank: tuple) -> bytes:
    """The rank's leading fields as bytes in the same order (the id is compared apart)."""
    flag, day, instant, neg_words = rank[:4]
    return _RANK.pack(flag, day, instant + 2**63, 2**32 - 1 + neg_words)


def _band_values(signature: np.ndarray) -> np.ndarray:
    """One uint64 per band: its ROWS signature values (``band_keys`` without the text)."""
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS)
    value = np.zeros(BANDS, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(ROWS):
            value = value * _U64(0x100000001B3) ^ rows[:, r]
    return value


_ENTRY_DTYPE = np.dtype([("value", ">u8"), ("rank", "S17"), ("id", ">u8")])


def bucket_pairs(entries: bytes) -> Iterator[tuple[int, int]]:
    """Candidate pairs (id hash, id hash) of one band's packed entries.

    Each member of a bucket is paired with the best-ranked ``MAX_BUCKET_COMPARE``
    members before it (rank, then id hash), so a crowded bucket stays linear."""
    table = np.frombuffer(entries, dtype=_ENTRY_DTYPE)
    if table.size < 2:
        return
    order = np.lexsort((table["id"], table["rank"], table["value"]))
    table = table[order]
    values = table["value"]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    ends = np.r_[starts[1:], values.size]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start < 2:
            continue
        ids = table["id"][start:end].tolist()
        for i in range(1, len(ids)):
            for j in range(min(i, MAX_BUCKET_COMPARE)):
                if ids[i] != ids[j]:  # the same id twice: an exact duplicate, settled later
                    yield ids[i], ids[j]


def _band_entries(s: Summary) -> Iterator[tuple[int, bytes]]:
    if not s.bands:
        return
    rank, key = _packed_rank(s.rank), _id_hash(s.id)
    for band, value in enumerate(_band_values(minhash(s.shingles)).tolist()):
        yield band, _ENTRY.pack(value, rank, key)


def _record(s: Summary) -> bytes:
    """What verification needs of the article, as one compact value."""
    return pickle.dumps(
        (s.id, s.rank, s.day, tuple(sorted(s.title_words)), s.agency, s.shingles.tobytes()),
        protocol=pickle.HIGHEST_PROTOCOL)


def _summary_of(record: bytes) -> Summary:
    id_, rank, day, title, agency, sh = pickle.loads(record)
    return Summary(id_, rank, day, np.frombuffer(sh, dtype=np.uint32), frozenset(title), (),
                   agency)


def _pair_roles(pair: tuple[int, int]) -> Iterator[tuple[int, bytes]]:
    """Each side of a candidate pair, keyed by its id hash, with the pair's key."""
    a, b = pair
    key = struct.pack(">QQ", *sorted((a, b)))
    yield a, key
    yield b, key


def _pack(article: Article) -> bytes:
    return zlib.compress(pickle.dumps(article, protocol=pickle.HIGHEST_PROTOCOL), 1)


def _unpack(packed: bytes) -> Article:
    return pickle.loads(zlib.decompress(packed))


class _Park(beam.DoFn):
    """Parks each article, its verification record and its band entries in this bundle's
    claim file.

    Emits (id, id hash, source, agency, record's reference, article's reference) per
    article; the references are plain (file name, offset, length) tuples, which every
    runner's coder packs. A band's entries are parked ``BAND_FLUSH_BYTES`` at a time and their
    references emitted (tag ``BAND_REFS``, as (band, reference)) when the bundle ends."""

    def __init__(self, folder: str):
        self._folder = folder
        self._writer: claimcheck.Writer | None = None

    def start_bundle(self) -> None:
        self._writer = None
        self._bands: dict[Any, list[bytearray]] = {}  # by window: each band's entries
        self._band_refs: dict[Any, list[tuple]] = {}  # by window: (band, reference)

    def process(self, element: tuple[Article, Summary],
                window=beam.DoFn.WindowParam) -> Iterator[tuple]:
        article, summary = element
        if self._writer is None:  # opened on the first article: an empty bundle writes no file
            self._writer = claimcheck.Writer(self._folder)
        bands = self._bands.get(window)
        if bands is None:
            bands = self._bands[window] = [bytearray() for _ in range(BANDS)]
        for band, entry in _band_entries(summary):
            entries = bands[band]
            entries += entry
            if len(entries) >= BAND_FLUSH_BYTES:
                self._park_band(window, band, entries)
        record = tuple(self._writer.put(_record(summary)))
        packed = tuple(self._writer.put(_pack(article)))
        yield article.id, _id_hash(article.id), article.source, article.agency, record, packed

    def _park_band(self, window, band: int, entries: bytearray) -> None:
        self._band_refs.setdefault(window, []).append((band, tuple(self._writer.put(entries))))
        entries.clear()

    def finish_bundle(self) -> Iterator[TaggedOutput]:
        for window, bands in self._bands.items():
            for band, entries in enumerate(bands):
                if entries:
                    self._park_band(window, band, entries)
        if self._writer is not None:
            self._writer.close()  # before any reference leaves the bundle
            self._writer = None
        for window, refs in self._band_refs.items():
            for band_ref in refs:
                yield TaggedOutput(BAND_REFS, WindowedValue(band_ref, window.max_timestamp(),
                                                            [window]))
        self._bands, self._band_refs = {}, {}

    def teardown(self) -> None:
        if self._writer is not None:  # a bundle that failed mid-way leaves no open handle
            self._writer.close()
            self._writer = None


class _CandidatePairs(beam.DoFn):
    """Candidate pairs of one band, from its entries parked by every bundle."""

    def __init__(self, folder: str):
        self._folder = folder

    def process(self, grouped: tuple[int, Iterable[tuple]]) -> Iterator[tuple[int, int]]:
        _, refs = grouped
        reader = claimcheck.Reader(self._folder)
        try:
            entries = b"".join(reader.get(ref) for ref in sorted(refs))
        finally:
            reader.close()
        yield from bucket_pairs(entries)


def _refs_to_pairs(joined: tuple[int, dict]) -> Iterator[tuple[bytes, tuple]]:
    _, groups = joined
    pairs = sorted(set(groups["pairs"]))
    if not pairs:
        return
    refs = sorted(set(groups["record"]))  # several: byte-identical pages (one id)
    for key in pairs:
        for ref in refs:
            yield key, ref


class _Verify(beam.DoFn):
    """The verified edges among the records of one candidate pair (read back by reference)."""

    def __init__(self, folder: str):
        self._folder = folder

    def start_bundle(self) -> None:
        self._reader = claimcheck.Reader(self._folder)

    def process(self, joined: tuple[bytes, Iterable[tuple]]) -> Iterator[tuple]:
        _, refs = joined
        records = {self._reader.get(ref) for ref in set(refs)}
        summaries = {s.id: s for s in map(_summary_of, sorted(records))}
        if len(summaries) < 2:
            return
        for worse, better in itertools.combinations(
                sorted(summaries.values(), key=lambda s: s.rank, reverse=True), 2):
            sim, cont = compare(worse, better)
            if is_same_story(worse, better, sim, cont):
                yield (worse.id, worse.rank, better.id, better.rank, syndication(worse, better),
                       better.agency)

    def finish_bundle(self) -> None:
        self._reader.close()


def _resolve_all(keyed: tuple[int, Iterable[tuple]]) -> Iterator[tuple[str, tuple]]:
    yield from resolve(keyed[1]).items()


def _placed(joined: tuple[str, dict]) -> tuple[list[tuple], list[tuple]]:
    """The parked articles of one id as (canonicals, copies) by the verdict, each as
    (claim file's name, (offset, length)) or, for a copy, (its name, (offset, length,
    Syndication, canonical's agency)). Byte-identical pages (one id, several sources)
    are one article and its exact copies (similarity 1.0)."""
    article_id, groups = joined
    verdicts = list(groups["verdict"])
    parked = sorted(groups["article"], key=lambda p: p[0])  # (source, agency, ref) by source
    if verdicts:
        synd, agency = verdicts[0]
        return [], [(name, (offset, length, synd, agency))
                    for _, _, (name, offset, length) in parked]
    (_, first_agency, (name, offset, length)), *same = parked
    exact = Syndication(canonical_id=article_id, similarity=1.0, containment=1.0)
    return [(name, (offset, length))], [(p, (o, n, exact, first_agency))
                                        for _, _, (p, o, n) in same]


def _canonical_refs(joined: tuple[str, dict]) -> list[tuple]:
    return _placed(joined)[0]


def _copy_refs(joined: tuple[str, dict]) -> list[tuple]:
    return _placed(joined)[1]


class _ReadBack(beam.DoFn):
    """The articles parked in one claim file, read in file order; copies as copies."""

    def __init__(self, folder: str, copies: bool):
        self._folder = folder
        self._copies = copies

    def process(self, grouped: tuple[str, Iterable[tuple]]) -> Iterator[Article]:
        name, placed = grouped
        reader = claimcheck.Reader(self._folder, open_files=1)
        try:
            for offset, length, *verdict in sorted(placed, key=lambda p: p[0]):
                article = _unpack(reader.get((name, offset, length)))
                if not self._copies:
                    yield article
                    continue
                synd, agency = verdict
                count("syndicated_copies")
                if synd.canonical_id == article.id:
                    count("syndication_exact_duplicates")
                yield as_copy(article, synd, agency)
        finally:
            reader.close()


def _remove_claims(folder: str, _read: int) -> None:
    claimcheck.remove_folder(folder)


class _Batch(beam.PTransform):
    def __init__(self, claims: str | None):
        super().__init__()
        self._claims = claims

    def expand(self, articles):
        # A folder the caller names is the caller's to remove (a newsbeam run's staging
        # folder); without one, a fresh temporary folder is used and removed here.
        owned = self._claims is None
        folder = self._claims or _temporary_folder(articles.pipeline)
        summarised = articles | "Summarise" >> beam.Map(lambda a: (a, summarise(a)))
        parked = summarised | "Park" >> beam.ParDo(_Park(folder)).with_outputs(
            BAND_REFS, main="articles")
        pairs = (
            parked[BAND_REFS]
            | "BandFiles" >> beam.GroupByKey()
            | "CandidatePairs" >> beam.ParDo(_CandidatePairs(folder)).with_output_types(
                tuple[int, int])
            | "DistinctPairs" >> beam.Distinct()
        )
        parked = parked["articles"]
        records = parked | "RecordRefs" >> beam.Map(lambda p: (p[1], p[4])).with_output_types(
            tuple[int, Any])
        roles = pairs | "PairRoles" >> beam.FlatMap(_pair_roles).with_output_types(
            tuple[int, bytes])
        verdicts = (
            {"record": records, "pairs": roles}
            | "JoinRecords" >> beam.CoGroupByKey()
            | "RecordsByPair" >> beam.FlatMap(_refs_to_pairs).with_output_types(
                tuple[bytes, Any])
            | "MeetByPair" >> beam.GroupByKey()
            | "Verify" >> beam.ParDo(_Verify(folder))
            # One resolution over all verified edges (about one per copy): the
            # greedy walk in rank order needs every edge of a story together.
            | "OneKey" >> beam.Map(lambda e: (0, e)).with_output_types(tuple[int, Any])
            | "AllEdges" >> beam.GroupByKey()
            | "Resolve" >> beam.FlatMap(_resolve_all).with_output_types(tuple[str, Any])
        )
        refs = parked | "ArticleRefs" >> beam.Map(
            lambda p: (p[0], (p[2], p[3], p[5]))).with_output_types(tuple[str, Any])
        joined = {"article": refs, "verdict": verdicts} | "JoinVerdicts" >> beam.CoGroupByKey()
        # Two plain FlatMaps rather than one multi-output ParDo: runners that port
        # the pipeline (Dask) handle these alike, and the local runner fuses both.
        canonicals = (
            joined
            | "CanonicalRefs" >> beam.FlatMap(_canonical_refs).with_output_types(tuple[str, Any])
            | "CanonicalsByFile" >> beam.GroupByKey()
            | "ReadCanonicals" >> beam.ParDo(_ReadBack(folder, copies=False))
        )
        copies = (
            joined
            | "CopyRefs" >> beam.FlatMap(_copy_refs).with_output_types(tuple[str, Any])
            | "CopiesByFile" >> beam.GroupByKey()
            | "ReadCopies" >> beam.ParDo(_ReadBack(folder, copies=True))
        )
        if owned:
            read = ((canonicals, copies) | "AllRead" >> beam.Flatten()
                    | "CountRead" >> beam.combiners.Count.Globally())
            _ = (articles.pipeline
                 | "ClaimFolder" >> beam.Create([folder])
                 | "RemoveClaims" >> beam.Map(_remove_claims, beam.pvalue.AsSingleton(read)))
        return {ARTICLES: canonicals, COPIES: copies}


def _temporary_folder(pipeline: beam.Pipeline) -> str:
    """A fresh claim folder under the pipeline's ``temp_location``, else the system's temp."""
    base = pipeline.options.get_all_options().get("temp_location") or tempfile.gettempdir()
    return FileSystems.join(base, f"newsbeam-claims-{uuid.uuid4().hex[:12]}")


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
        same = index.entries.get(mine.id)
        if same is not None and same.first_ms - self._ttl_ms <= now_ms <= same.last_ms + self._ttl_ms:
            # A byte-identical page under another name (the id is the content's): a copy
            # even where its text is too thin for the shingle check.
            best = ((same.first_ms, same.id), same, index.summaries[same.id])
        for entry_id in () if best else index.candidates(mine.bands):
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
            synd = (syndication(mine, other) if entry.id != mine.id
                    else Syndication(canonical_id=entry.id, similarity=1.0, containment=1.0))
            yield TaggedOutput(COPIES, as_copy(article, synd, entry.agency))
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

    def __init__(self, streaming: bool = False, ttl_days: float = 7.0,
                 claims: str | None = None, label: str | None = None):
        """``claims``: batch only, a folder (any Beam filesystem, reached by every worker)
        where articles wait while their verdicts are found; the caller removes it after the
        run. Without it, a temporary folder is used and removed once read."""
        super().__init__(label)
        self._claims = claims
        if ttl_days <= 0:
            raise ValueError("ttl_days must be positive")
        self._streaming = streaming
        self._ttl_days = ttl_days

    def expand(self, articles):
        if self._streaming:
            return articles | "Streaming" >> _Streaming(self._ttl_days)
        return articles | "Batch" >> _Batch(self._claims)
