"""Topic tagging: score each article against an editable TOML taxonomy and say why.

Entry points: ``load_taxonomy(path)`` reads and validates a taxonomy completely (a command
line calls it before a pipeline starts; every mistake is a ``TaxonomyError`` naming the file
and the key), ``parse_taxonomy(data, source)`` does the same for parsed TOML, and
``score_topics`` tags one article. A desk file that says ``extends = "packaged"`` adds to the
packaged taxonomy (``extend_taxonomy`` says how values, terms, lists and rules merge).

Each tag's reasons are signed amounts that add up to its evidence, and its score is
``1 - exp(-evidence / scale)``; a passing mention is never tagged, so no tag carries a reason
against itself.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from importlib import resources
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms.failures import GuardedMap, count
from transforms.records import STAGE_TOPICS, Article, TopicHit

DEFAULT_TAXONOMY = "topics.toml"  # in transforms/data, shipped as package data

TITLE = "title"
LEAD = "lead"
BODY = "body"

CONTEXT_SENTENCE = "sentence"
CONTEXT_ARTICLE = "article"

_WORD = re.compile(r"\w+")
# A sentence ends at . ! ? (maybe closing a quote) followed by space and a capital,
# digit or opening quote; not after an initial ("N. Korea", "U.S.") or a title ("Mr.").
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]?\s+(?=[\"“‘'(]?[A-Z0-9])|[。！？]\s*")
_NOT_AN_END = re.compile(r"(?:\b[A-Z]|\bMrs?|\bMs|\bDr|\bSt|\bNo)\.$")
_PARAGRAPH = re.compile(r"\n\s*\n")
# "SEOUL (Reuters) - ", "Pyongyang, August 14 (KCNA) -- ": where a story was filed says
# nothing about whose missiles it is about, so a dateline is not topic context.
_DATELINE = re.compile(r"^[A-Z][^\n()]{0,50}?(?:\([^)\n]{1,30}\)\s*)?(?:--|—|–|-)\s+")


class TaxonomyError(ValueError):
    """The taxonomy file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Phrase:
    """One phrase of the taxonomy, as written and compiled."""

    text: str
    weight: float
    pattern: re.Pattern[str]
    # First word of the phrase, lower-cased, and whether it is a prefix ("abduct*"): a
    # phrase whose anchor is not among an article's words cannot match, so is not run.
    anchor: str | None = None
    anchor_prefix: bool = False
    # Patterns run on lower-cased text with the left word boundary checked by hand:
    # a leading look-behind or IGNORECASE stops the regex engine's fast literal scan
    # (measured 0.5 us against 13-45 us per search of a 1.5 kB text).
    left_boundary: bool = True

    def spans(self, low: str) -> list[tuple[int, int]]:
        out = []
        pos = 0
        while (m := self.pattern.search(low, pos)) is not None:
            start = m.start()
            if self.left_boundary and start > 0 and _is_word_char(low[start - 1]):
                pos = start + 1
                continue
            out.append((start, m.end()))
            pos = max(m.end(), start + 1)
        return out

    def found(self, low: str) -> bool:
        """Whether ``spans`` is not empty; stops at the first match."""
        if not self.left_boundary:
            return self.pattern.search(low) is not None
        pos = 0
        while (m := self.pattern.search(low, pos)) is not None:
            start = m.start()
            if start == 0 or not _is_word_char(low[start - 1]):
                return True
            pos = start + 1
        return False


@dataclass(frozen=True)
class Rule:
    """Fires when a term occurs within ``window`` words of a ``near`` phrase."""

    name: str
    terms: tuple[Phrase, ...]
    near: tuple[Phrase, ...]
    window: int
    weight: float


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    terms: tuple[Phrase, ...]
    rules: tuple[Rule, ...]
    exclusions: tuple[Phrase, ...]
    context: tuple[Phrase, ...]
    context_scope: str
    off_context_weight: float
    negation_weight: float
    body_only_weight: float = 1.0


@dataclass(frozen=True)
class Taxonomy:
    version: str
    source: str
    topics: tuple[Topic, ...]
    threshold: float
    scale: float
    passing_ratio: float
    lead_sentences: int
    repeat_decay: float
    exclusion_window: int
    title_weight: float
    lead_weight: float
    body_start_weight: float
    body_end_weight: float
    negation_cues: tuple[Phrase, ...]
    negation_window: int

    @cached_property
    def anchored_phrases(self) -> tuple[tuple[str | None, bool, tuple[Phrase, ...]], ...]:
        """The topics' distinct phrases grouped by (anchor, anchor_prefix), in taxonomy order.

        Derived from the fields on first use, so an article checks each anchor once.
        """
        groups: dict[tuple[str | None, bool], dict[str, Phrase]] = {}
        for topic in self.topics:
            phrases = [*topic.terms, *topic.exclusions, *topic.context]
            for rule in topic.rules:
                phrases += [*rule.terms, *rule.near]
            for p in phrases:
                # A phrase's text fixes its pattern and anchor.
                groups.setdefault((p.anchor, p.anchor_prefix), {}).setdefault(p.text, p)
        return tuple((a, prefix, tuple(ps.values())) for (a, prefix), ps in groups.items())

    @cached_property
    def later_words(self) -> dict[str, tuple[tuple[str, bool], ...]]:
        """``_later_words`` of each phrase text of ``anchored_phrases``."""
        return {
            p.text: _later_words(p.text) for _, _, phrases in self.anchored_phrases for p in phrases
        }


# ---------------------------------------------------------------- loading


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


# Scripts written without spaces between words (Japanese, Chinese, Thai, ...) or whose words
# take particles glued on (Korean "납치된", "납치문제를"): a phrase in them matches inside a
# longer run of letters, so no word boundary is asked for on that side.
_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "LAO", "KHMER",
                     "MYANMAR", "TIBETAN")


def _unspaced(c: str) -> bool:
    return unicodedata.name(c, "").startswith(_UNSPACED_SCRIPTS)


def _lower(text: str) -> str:
    """Lower-cased text of the same length, so match offsets hold for the original."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def compile_phrase(text: str) -> re.Pattern[str]:
    """The regex of a taxonomy phrase (``*`` suffix, space or hyphen), for lower-cased text.

    The left word boundary is not in the pattern: ``Phrase.spans`` checks it.
    """
    if text.startswith("re:"):
        return re.compile(text[3:], re.IGNORECASE)
    words = [w for w in re.split(r"[\s\-]+", text.strip()) if w]
    if not words:
        raise ValueError("empty phrase")
    last = words[-1].rstrip("*")
    right = "" if last and _unspaced(last[-1]) else r"(?!\w)"
    regex = ""
    for i, word in enumerate(words):
        core = word.rstrip("*")
        if i:
            # After an initial the dot is optional and the space too ("N. Korea", "N.Korea").
            prev = words[i - 1].rstrip("*")
            regex += r"\.?[\s\-]*" if len(prev) == 1 and prev.isalpha() else r"[\s\-]+"
        # Dots inside a word are optional ("U.S." = "US").
        regex += re.escape(core).replace(r"\.", r"\.?") + (r"\w*" if word.endswith("*") else "")
    return re.compile(regex.lower() + right)


def _anchor(text: str) -> tuple[str | None, bool]:
    if text.startswith("re:") or _unspaced(text.strip()[0]):
        return None, False  # an unspaced phrase is not a word of its own: always run it
    first = text.split()[0].split("-")[0]
    word = _WORD.match(first)
    if word is None:
        return None, False
    # "u.s." is anchored on "u" as a prefix: the text may write "US" as one word.
    prefix = first.endswith("*") or word.end() < len(first.rstrip("*"))
    return word.group().lower(), prefix


def _later_words(text: str) -> tuple[tuple[str, bool], ...]:
    """Words after the first that a match of the phrase holds as words of the text: (word, prefix).

    Such a word follows a space or hyphen and ends at a non-word character; with
    ``*``, or as an initial before another word ("by n korea" matches "by nkorea"),
    it is only the start of a word. A word after an initial, or with a dot or other
    non-word character inside, is left out.
    """
    if text.startswith("re:") or any(_unspaced(c) for c in text):
        return ()
    words = [w for w in re.split(r"[\s\-]+", text.strip()) if w]  # as compile_phrase
    out = []
    for i in range(1, len(words)):
        if _is_initial(words[i - 1]):
            continue
        core = words[i].rstrip("*").lower()
        if _WORD.fullmatch(core):
            prefix = words[i].endswith("*") or (i + 1 < len(words) and _is_initial(words[i]))
            out.append((core, prefix))
    return tuple(out)


def _is_initial(word: str) -> bool:
    """A one-letter word, after which compile_phrase makes the dot and the space optional."""
    core = word.rstrip("*")
    return len(core) == 1 and core.isalpha()


class _Vocab:
    """The words of a text, to skip phrases whose first word (or its prefix) is not there."""

    def __init__(self, text: str):
        self.words = set(_WORD.findall(text.lower()))
        # Sorted, the words with a given prefix follow that prefix: one bisect finds
        # whether any word starts with it, where a set of every prefix cost ~0.2 ms.
        self.ordered = sorted(self.words)

    def has_prefix(self, prefix: str) -> bool:
        i = bisect_left(self.ordered, prefix)
        return i < len(self.ordered) and self.ordered[i].startswith(prefix)

    def may_match(self, anchor: str | None, prefix: bool) -> bool:
        if anchor is None:
            return True
        return self.has_prefix(anchor) if prefix else anchor in self.words


def _found_phrases(taxonomy: Taxonomy, whole: str) -> set[str]:
    """The texts of the taxonomy's phrases found in the article: one scan each, not per sentence."""
    vocab = _Vocab(whole)
    later = taxonomy.later_words
    # Every word a match must hold is looked up before the (slower) regex runs.
    return {
        p.text
        for anchor, prefix, phrases in taxonomy.anchored_phrases
        if vocab.may_match(anchor, prefix)
        for p in phrases
        if all(vocab.may_match(w, pre) for w, pre in later[p.text]) and p.found(whole)
    }


class _Reader:
    """Reads typed values out of the parsed TOML, naming the key in every error."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str) -> TaxonomyError:
        return TaxonomyError(f"taxonomy {self.source}: {where}: {problem}")

    def number(self, table: Mapping[str, Any], key: str, where: str, default: float | None = None,
               low: float | None = None, high: float | None = None) -> float:
        if key not in table:
            if default is None:
                raise self.fail(where, f"missing required key '{key}'")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"'{key}' must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(where, f"'{key}' = {value} is outside [{low}, {high}]")
        return float(value)

    def phrase(self, text: Any, weight: float, where: str) -> Phrase:
        if not isinstance(text, str) or not text.strip():
            raise self.fail(where, f"a phrase must be a non-empty string, got {text!r}")
        try:
            return Phrase(text, weight, compile_phrase(text), *_anchor(text),
                          left_boundary=not (text.startswith("re:")
                                             or _unspaced(text.strip()[0])))
        except (re.error, ValueError) as exc:
            raise self.fail(where, f"bad phrase {text!r}: {exc}") from exc

    def phrases(self, table: Mapping[str, Any], key: str, where: str) -> tuple[Phrase, ...]:
        value = table.get(key, [])
        if not isinstance(value, list):
            raise self.fail(where, f"'{key}' must be a list of phrases, got {value!r}")
        return tuple(self.phrase(v, 1.0, f"{where}.{key}") for v in value)

    def weighted(self, table: Mapping[str, Any], key: str, where: str) -> tuple[Phrase, ...]:
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(where, f"'{key}' must be a table of phrase = weight")
        return tuple(
            self.phrase(text, self.number(value, text, f"{where}.{key}", low=0.0), f"{where}.{key}")
            for text in value
        )


_TOPIC_KEYS = {"description", "terms", "rules", "exclusions", "context", "context_scope",
               "off_context_weight", "negation_weight", "body_only_weight"}
_RULE_KEYS = {"name", "terms", "near", "window", "weight"}
_POSITION_KEYS = {"title", "lead", "body_start", "body_end"}
_NEGATION_KEYS = {"cues", "window"}
_TOP_KEYS = {"version", "threshold", "scale", "passing_ratio", "lead_sentences", "repeat_decay",
             "exclusion_window", "body_only_weight", "positions", "negation", "topics",
             "extends"}
PACKAGED = "packaged"  # the value of `extends` that names the packaged taxonomy


def _check_keys(r: _Reader, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise r.fail(where, f"unknown key(s) {sorted(unknown)}; known: {sorted(allowed)}")


def extend_taxonomy(base: Mapping[str, Any], desk: Mapping[str, Any]) -> dict[str, Any]:
    """The packaged taxonomy (``base``) with a desk file's additions, both as parsed TOML.

    A desk file that starts with ``extends = "packaged"`` lists only what it changes:
    - a value (``threshold``, ``positions.title``, a topic's ``context_scope`` ...) replaces
      the packaged one;
    - ``terms`` tables merge phrase by phrase: a new phrase is added, a packaged phrase gets
      the desk's weight (0 silences it);
    - lists (``exclusions``, ``context``, ``negation.cues``) and ``[[topics.X.rules]]`` are
      appended to the packaged ones;
    - a new ``[topics.X]`` table adds a topic.
    To remove a packaged phrase, rule or topic, copy the packaged file instead.
    """
    out: dict[str, Any] = {k: v for k, v in base.items() if k != "topics"}
    for key, value in desk.items():
        if key in ("extends", "topics"):
            continue
        if key in ("positions", "negation") and isinstance(value, dict) and isinstance(
                base.get(key), dict):
            merged = dict(base[key])
            for k, v in value.items():
                old = merged.get(k)
                merged[k] = old + v if isinstance(old, list) and isinstance(v, list) else v
            out[key] = merged
        else:
            out[key] = value
    topics = {name: dict(table) for name, table in base.get("topics", {}).items()}
    desk_topics = desk.get("topics", {})
    if not isinstance(desk_topics, dict):
        return {**out, "topics": desk_topics}  # parse_taxonomy names the mistake
    for name, table in desk_topics.items():
        if name not in topics or not isinstance(table, dict):
            topics[name] = table
            continue
        merged = topics[name]
        for k, v in table.items():
            old = merged.get(k)
            if isinstance(old, dict) and isinstance(v, dict):
                merged[k] = {**old, **v}
            elif isinstance(old, list) and isinstance(v, list):
                merged[k] = old + v
            else:
                merged[k] = v
    out["topics"] = topics
    return out


def _packaged_data() -> dict[str, Any]:
    raw = resources.files("transforms").joinpath("data", DEFAULT_TAXONOMY).read_bytes()
    return tomllib.loads(raw.decode("utf-8"))


def parse_taxonomy(data: Mapping[str, Any], source: str = "<taxonomy>") -> Taxonomy:
    """Validate parsed TOML completely and build a Taxonomy; raise TaxonomyError naming the
    file and the key.

    With ``extends = "packaged"`` the data is a desk's additions to the packaged taxonomy
    (``extend_taxonomy`` says how they merge).
    """
    r = _Reader(source)
    _check_keys(r, data, _TOP_KEYS, "top level")
    extends = data.get("extends")
    if extends is not None:
        if extends != PACKAGED:
            raise r.fail("extends", f"only \"{PACKAGED}\" can be extended, got {extends!r}")
        data = extend_taxonomy(_packaged_data(), data)
    positions = data.get("positions", {})
    negation = data.get("negation", {})
    topics_table = data.get("topics")
    if not isinstance(positions, dict) or not isinstance(negation, dict):
        raise r.fail("top level", "'positions' and 'negation' must be tables")
    _check_keys(r, positions, _POSITION_KEYS, "positions")
    _check_keys(r, negation, _NEGATION_KEYS, "negation")
    if not isinstance(data.get("version", ""), str):
        raise r.fail("top level", "'version' must be a string")
    if not isinstance(topics_table, dict) or not topics_table:
        raise r.fail("top level", "no [topics.<name>] table: the taxonomy needs at least one topic")
    default_body_only = r.number(data, "body_only_weight", "top level", 1.0, 0.0, 1.0)
    topics = []
    for name, table in sorted(topics_table.items()):
        where = f"topics.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise r.fail(where, "a topic name must be lower-case letters, digits and _")
        if not isinstance(table, dict):
            raise r.fail(where, "must be a table")
        _check_keys(r, table, _TOPIC_KEYS, where)
        if not isinstance(table.get("description", ""), str):
            raise r.fail(where, "'description' must be a string")
        terms = r.weighted(table, "terms", where)
        rules = []
        raw_rules = table.get("rules", [])
        if not isinstance(raw_rules, list):
            raise r.fail(where, "'rules' must be an array of tables ([[topics.<name>.rules]])")
        for i, rule in enumerate(raw_rules):
            rwhere = f"{where}.rules[{i}]"
            if not isinstance(rule, dict):
                raise r.fail(rwhere, "must be a table")
            _check_keys(r, rule, _RULE_KEYS, rwhere)
            if not isinstance(rule.get("name", ""), str):
                raise r.fail(rwhere, "'name' must be a string")
            rule_terms = r.phrases(rule, "terms", rwhere)
            near = r.phrases(rule, "near", rwhere)
            if not rule_terms or not near:
                raise r.fail(rwhere, "a rule needs 'terms' and 'near'")
            rules.append(Rule(
                name=str(rule.get("name", f"rule {i}")),
                terms=rule_terms,
                near=near,
                window=int(r.number(rule, "window", rwhere, default=8, low=1)),
                weight=r.number(rule, "weight", rwhere, low=0.0),
            ))
        if not terms and not rules:
            raise r.fail(where, "a topic needs 'terms' or 'rules'")
        scope = table.get("context_scope", CONTEXT_ARTICLE)
        if scope not in (CONTEXT_SENTENCE, CONTEXT_ARTICLE):
            raise r.fail(where, f"'context_scope' must be 'sentence' or 'article', got {scope!r}")
        topics.append(Topic(
            name=name,
            description=str(table.get("description", "")),
            terms=terms,
            rules=tuple(rules),
            exclusions=r.phrases(table, "exclusions", where),
            context=r.phrases(table, "context", where),
            context_scope=scope,
            off_context_weight=r.number(table, "off_context_weight", where, 1.0, 0.0, 1.0),
            negation_weight=r.number(table, "negation_weight", where, 0.5, 0.0, 1.0),
            body_only_weight=r.number(table, "body_only_weight", where,
                                      default_body_only, 0.0, 1.0),
        ))
    return Taxonomy(
        version=str(data.get("version", "")),
        source=source,
        topics=tuple(topics),
        threshold=r.number(data, "threshold", "top level", low=0.0, high=1.0),
        scale=r.number(data, "scale", "top level", 2.8, low=1e-6),
        passing_ratio=r.number(data, "passing_ratio", "top level", 0.0, 0.0, 1.0),
        lead_sentences=int(r.number(data, "lead_sentences", "top level", 2, low=0)),
        repeat_decay=r.number(data, "repeat_decay", "top level", 0.5, 0.0, 1.0),
        exclusion_window=int(r.number(data, "exclusion_window", "top level", 6, low=0)),
        title_weight=r.number(positions, "title", "positions", 3.0, low=0.0),
        lead_weight=r.number(positions, "lead", "positions", 2.0, low=0.0),
        body_start_weight=r.number(positions, "body_start", "positions", 1.0, low=0.0),
        body_end_weight=r.number(positions, "body_end", "positions", 0.5, low=0.0),
        negation_cues=r.phrases(negation, "cues", "negation"),
        negation_window=int(r.number(negation, "window", "negation", 2, low=0)),
    )


def load_taxonomy(path: str | None = None) -> Taxonomy:
    """Read and validate a TOML taxonomy: ``path``, or the packaged transforms/data/topics.toml.

    Every mistake raises TaxonomyError naming the file and the key, so a command line can
    call this before a pipeline starts. A desk file that says ``extends = "packaged"`` adds to
    the packaged taxonomy instead of replacing it (see ``extend_taxonomy``).
    """
    if path is None:
        source = f"transforms/data/{DEFAULT_TAXONOMY}"
        raw = resources.files("transforms").joinpath("data", DEFAULT_TAXONOMY).read_bytes()
    else:
        source = path
        try:
            with FileSystems.open(path) as fh:  # a local path, gs://, ...
                raw = fh.read()
        except OSError as exc:
            raise TaxonomyError(f"taxonomy {path}: cannot read: {exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"taxonomy {source}: not valid TOML: {exc}") from exc
    return parse_taxonomy(data, source)


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class _Sentence:
    text: str
    low: str  # lower-cased, same offsets
    where: str  # TITLE, LEAD or BODY
    weight: float
    context_text: str  # text in which the topic's context is looked for (sentence scope)

    # Derived on first use: most sentences match no phrase and never need them.
    @cached_property
    def context(self) -> str:
        return _lower(self.context_text)

    @cached_property
    def word_starts(self) -> tuple[int, ...]:
        return tuple(m.start() for m in _WORD.finditer(self.text))


def _split_sentences(text: str) -> list[str]:
    out = []
    for para in _PARAGRAPH.split(text):
        para = " ".join(para.split())
        start = 0
        for m in _SENTENCE_END.finditer(para):
            # The dot and what precedes it, to tell "N. Korea" from "in Korea. North".
            if _NOT_AN_END.search(para, max(m.start() - 4, 0), m.start() + 1):
                continue
            end = m.end() - len(m.group()) + len(m.group().rstrip())
            if para[start:end].strip():
                out.append(para[start:end].strip())
            start = m.end()
        if para[start:].strip():
            out.append(para[start:].strip())
    return out


def _segments(tax: Taxonomy, title: str | None, summary: str | None, text: str) -> list[_Sentence]:
    """The article as weighted sentences: title, lead, then body with falling weight."""
    title = " ".join((title or "").split())
    summary_parts = _split_sentences(summary or "")
    text_parts = _split_sentences(text or "")
    if text_parts:
        # Only the text's first sentence can carry a dateline.
        first = _DATELINE.sub("", text_parts[0])
    lead = [(s, s) for s in summary_parts]
    lead += [(s, first if i == 0 else s) for i, s in enumerate(text_parts[: tax.lead_sentences])]
    body = text_parts[tax.lead_sentences:]

    def sentence(s: str, where: str, weight: float, context: str) -> _Sentence:
        return _Sentence(s, _lower(s), where, weight, context)

    out = []
    if title:
        out.append(sentence(title, TITLE, tax.title_weight, title))
    prev = ""
    for s, ctx in lead:
        # A lead sentence often leans on the title ("its nuclear programme").
        out.append(sentence(s, LEAD, tax.lead_weight, f"{title}\n{prev}\n{ctx}"))
        prev = ctx
    n = len(body)
    for i, s in enumerate(body):
        frac = i / (n - 1) if n > 1 else 0.0
        w = tax.body_start_weight + (tax.body_end_weight - tax.body_start_weight) * frac
        out.append(sentence(s, BODY, w, f"{prev}\n{s}"))
        prev = s
    return out


def _word_index(sent: _Sentence, char: int) -> int:
    return bisect_right(sent.word_starts, char) - 1


def _spans(phrases: Sequence[Phrase], text: str) -> list[tuple[int, int, Phrase]]:
    return [(a, b, p) for p in phrases for a, b in p.spans(text)]


def _longest_first(matches: list[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
    """Keep the longest of overlapping matches ("six party talks" over "talks")."""
    # Ties (same span) go to the heavier phrase, then the first written.
    matches.sort(key=lambda m: (m[0], -(m[1] - m[0]), -m[2][1]))
    kept: list[tuple[int, int, Any]] = []
    for m in matches:
        if kept and m[0] < kept[-1][1]:
            continue
        kept.append(m)
    return kept


def _near(sent: _Sentence, a: tuple[int, int], spans: list[tuple[int, int, Phrase]],
          window: int) -> Phrase | None:
    a0, a1 = _word_index(sent, a[0]), _word_index(sent, max(a[1] - 1, a[0]))
    for s, e, p in spans:
        b0, b1 = _word_index(sent, s), _word_index(sent, max(e - 1, s))
        gap = max(b0 - a1, a0 - b1, 0)
        if gap <= window:
            return p
    return None


def _negated(tax: Taxonomy, sent: _Sentence, start: int) -> bool:
    if tax.negation_window == 0 or not tax.negation_cues:
        return False
    first = _word_index(sent, start)
    lo = max(first - tax.negation_window, 0)
    if first <= 0:
        return False
    window = sent.low[sent.word_starts[lo]: start]
    return any(p.found(window) for p in tax.negation_cues)


@dataclass
class _Evidence:
    label: str
    total: float = 0.0
    count: int = 0
    places: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _topic_evidence(tax: Taxonomy, topic: Topic, sentences: list[_Sentence],
                    needs_context: bool) -> list[tuple[str, float]]:
    """The evidence for one topic (its phrases cut to those in the article), as reasons.

    Each reason is (label, amount): amounts are rounded to 0.01 and add up to the topic's
    evidence, so what a desk reads is exactly what was scored.
    """
    if topic.context_scope == CONTEXT_ARTICLE and needs_context:
        if not topic.context:
            if topic.off_context_weight == 0.0:
                return [("no context: none of the topic's context phrases in the article", 0.0)]
            article_factor = topic.off_context_weight
        else:
            article_factor = 1.0
    else:
        article_factor = 1.0
    if not topic.terms and not topic.rules:
        return []  # nothing of the topic in the article

    # Every occurrence that counts: (value, label, where, note).
    found: list[tuple[float, str, str, str]] = []
    cancelled: list[str] = []
    for sent in sentences:
        term_matches = _longest_first(
            [(s, e, (f"'{p.text}'", p.weight)) for s, e, p in _spans(topic.terms, sent.low)]
        )
        # A rule adds to the terms it is made of (at most once per sentence).
        rule_matches = []
        for rule in topic.rules:
            near = _spans(rule.near, sent.low)
            if not near:
                continue
            for s, e, _ in _spans(rule.terms, sent.low):
                if _near(sent, (s, e), near, rule.window) is not None:
                    rule_matches.append((s, e, (f"rule '{rule.name}'", rule.weight)))
                    break
        if not term_matches and not rule_matches:
            continue
        excl = _spans(topic.exclusions, sent.low)
        in_context = True
        if topic.context_scope == CONTEXT_SENTENCE and needs_context:
            in_context = any(p.found(sent.context) for p in topic.context)
        for s, e, (label, weight) in term_matches + rule_matches:
            hit = _near(sent, (s, e), excl, tax.exclusion_window) if excl else None
            if hit is not None:
                cancelled.append(f"{label} cancelled by exclusion '{hit.text}' ({sent.where})")
                continue
            factor = article_factor
            note = ""
            if not in_context:
                factor *= topic.off_context_weight
                note = "off-context"
            if _negated(tax, sent, s):
                factor *= topic.negation_weight
                note = (note + ",negated").lstrip(",")
            found.append((sent.weight * weight * factor, label, sent.where, note))

    # Repeats of one term add less: the strongest occurrence counts in full.
    by_label: dict[str, _Evidence] = {}
    for value, label, where, note in sorted(found, key=lambda f: -f[0]):
        ev = by_label.setdefault(label, _Evidence(label))
        ev.total += value * tax.repeat_decay ** ev.count
        ev.count += 1
        if where not in ev.places:
            ev.places.append(where)
        if note and note not in ev.notes:
            ev.notes.append(note)
    parts: list[tuple[str, float]] = []
    for ev in sorted(by_label.values(), key=lambda e: (-e.total, e.label)):
        amount = round(ev.total, 2)
        if amount <= 0.0:
            continue
        extra = f", {'/'.join(ev.notes)}" if ev.notes else ""
        parts.append((f"{ev.label} x{ev.count} in {'/'.join(ev.places)}{extra}", amount))
    total = sum(amount for _, amount in parts)
    if total > 0.0 and topic.body_only_weight < 1.0 and not any(
            where in (TITLE, LEAD) for ev in by_label.values() for where in ev.places):
        # A news text names its subject in the headline or the lead.
        cut = round(total * (1.0 - topic.body_only_weight), 2)
        parts.append((f"only in the body, not in the title or lead (x{topic.body_only_weight:g})",
                      -cut))
    parts.extend((note, 0.0) for note in sorted(set(cancelled)))
    return parts


def _signed(label: str, amount: float) -> str:
    return f"{label}: {'-' if amount < 0 else '+'}{abs(amount):.2f}"


def _present(topic: Topic, found: set[str]) -> Topic:
    """The topic cut down to the phrases found in the article (``_found_phrases``)."""

    def keep(phrases: tuple[Phrase, ...]) -> tuple[Phrase, ...]:
        return tuple(p for p in phrases if p.text in found)

    rules = []
    for rule in topic.rules:
        terms, near = keep(rule.terms), keep(rule.near)
        if terms and near:
            rules.append(replace(rule, terms=terms, near=near))
    return replace(topic, terms=keep(topic.terms), rules=tuple(rules),
                   exclusions=keep(topic.exclusions), context=keep(topic.context))


def score_topics(taxonomy: Taxonomy, title: str | None, summary: str | None,
                 text: str) -> tuple[tuple[TopicHit, ...], dict[str, float]]:
    """Hits over the threshold (strongest first, with reasons) and every topic's score.

    A hit's first reason gives its score from its evidence, ``1 - exp(-evidence / scale)``;
    the other reasons each add or take off an amount, and the amounts add up to the evidence.
    A topic whose evidence is below ``passing_ratio`` x the strongest topic's is a passing
    mention: it is not tagged, so no hit carries a reason against itself.
    """
    sentences = _segments(taxonomy, title, summary, text)
    whole = "\n".join(s.low for s in sentences)
    found = _found_phrases(taxonomy, whole)
    parts = {
        t.name: _topic_evidence(taxonomy, _present(t, found), sentences, bool(t.context))
        for t in taxonomy.topics
    }
    raw = {name: round(sum(a for _, a in p), 2) for name, p in parts.items()}
    strongest_name, strongest = max(raw.items(), key=lambda kv: (kv[1], kv[0]),
                                    default=("", 0.0))
    scores: dict[str, float] = {}
    hits = []
    for name, reasons in parts.items():
        evidence = raw[name]
        score = round(1.0 - math.exp(-max(evidence, 0.0) / taxonomy.scale), 4)
        floor = taxonomy.passing_ratio * strongest
        if 0.0 < evidence < floor:
            # A passing mention next to the article's main subject is not a subject: never
            # tagged, and its score falls with the shortfall, below the threshold.
            passing = round(min(score, taxonomy.threshold) * evidence / floor, 4)
            scores[name] = max(min(passing, taxonomy.threshold - 1e-4), 0.0)
            continue
        scores[name] = score
        if score >= taxonomy.threshold:
            hits.append(TopicHit(
                topic=name,
                score=score,
                reasons=(f"score {score:.3f} = 1 - exp(-evidence {evidence:.2f} / scale "
                         f"{taxonomy.scale:g}) >= threshold {taxonomy.threshold:g}",
                         *(_signed(label, amount) for label, amount in reasons)),
            ))
    hits.sort(key=lambda h: (-h.score, h.topic))
    return tuple(hits), scores


def tag_article(article: Article, taxonomy: Taxonomy) -> Article:
    """The article with ``topics`` and ``topic_scores`` set from the taxonomy."""
    hits, scores = score_topics(taxonomy, article.title, article.summary, article.text)
    return replace(article, topics=hits, topic_scores=tuple(sorted(scores.items())))


# ---------------------------------------------------------------- composite


def _tag_and_count(article: Article, taxonomy: Taxonomy) -> Article:
    tagged = tag_article(article, taxonomy)
    for hit in tagged.topics:
        count(f"topic_{hit.topic}")
    return tagged


class TagTopics(beam.PTransform):
    """Tag each Article with topics from a taxonomy; failures go to ``dead_letters``."""

    def __init__(self, taxonomy_path: str | None = None, label: str | None = None):
        super().__init__(label)
        # Loaded here so a bad taxonomy fails when the pipeline is built, before any page.
        self._taxonomy = load_taxonomy(taxonomy_path)

    def expand(self, articles):
        return articles | GuardedMap(STAGE_TOPICS, partial(_tag_and_count, taxonomy=self._taxonomy))
