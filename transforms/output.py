"""Output records: Articles and DeadLetters as the Avro dicts that ``schemas/`` describe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from importlib import metadata

import apache_beam as beam

import schemas
from transforms.failures import count
from transforms.records import Article, DeadLetter

# Counter prefix for articles written per topic (the topics stage counts tags as "topic_").
WRITTEN_TOPIC_PREFIX = "articles_topic_"


def pipeline_version() -> str:
    """What produced a record: newsbeam, schema and extractor versions."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "unknown"

    return (
        f"newsbeam {version('newsbeam')}; schema {schemas.SCHEMA_VERSION}; "
        f"trafilatura {version('trafilatura')}; apache-beam {version('apache-beam')}"
    )


def _millis(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def article_record(article: Article, ingested_at_ms: int, version: str) -> dict:
    """The Avro ``Article`` record of an article (or of a syndicated copy)."""
    published = None
    if article.published is not None:
        p = article.published
        published = {
            "date": p.date,
            "time": p.time,
            "utc_offset": p.utc_offset,
            "instant": p.instant_ms,
            "certainty": p.certainty,
            "evidence": p.evidence,
        }
    return {
        "id": article.id,
        "source": article.source,
        "url": article.url,
        "kind": article.kind,
        "title": article.title,
        "text": article.text,
        "summary": article.summary,
        "publisher": article.publisher,
        "authors": list(article.authors),
        "agency": article.agency,
        "dateline": asdict(article.dateline) if article.dateline else None,
        "published": published,
        "mentioned_days": [asdict(day) for day in article.mentioned_days],
        "language": article.language,
        "topics": [hit.topic for hit in article.topics],
        "topic_scores": {name: float(score) for name, score in article.topic_scores},
        "topic_reasons": {hit.topic: list(hit.reasons) for hit in article.topics},
        "syndicated_from": asdict(article.syndicated_from) if article.syndicated_from else None,
        "fetched_at": _millis(article.fetched_at),
        "size_bytes": int(article.size_bytes),
        "ingested_at": ingested_at_ms,
        "pipeline_version": version,
    }


def dead_letter_record(letter: DeadLetter, ingested_at_ms: int, version: str) -> dict:
    """The Avro ``DeadLetter`` record."""
    return {**asdict(letter), "ingested_at": ingested_at_ms, "pipeline_version": version}


def _count_article(article: Article, kind: str) -> Iterable[Article]:
    count(f"{kind}_written")
    if kind == "articles":
        for hit in article.topics:
            count(f"{WRITTEN_TOPIC_PREFIX}{hit.topic}")
    yield article


class ToRecords(beam.PTransform):
    """Articles, copies or dead letters to Avro dicts, counting what is written."""

    def __init__(self, kind: str, ingested_at_ms: int, version: str):
        super().__init__()
        self._kind = kind
        self._ingested = ingested_at_ms
        self._version = version

    def expand(self, pcoll):
        kind, ingested, version = self._kind, self._ingested, self._version
        if kind == "dead_letters":

            def convert(letter):
                count("dead_letters_written")
                return dead_letter_record(letter, ingested, version)

            return pcoll | beam.Map(convert)
        return (
            pcoll | beam.FlatMap(_count_article, kind) | beam.Map(article_record, ingested, version)
        )
