"""Output that consumers can rely on: three independent readers, and safe schema evolution."""

from __future__ import annotations

import glob
import io
import json
from importlib import resources
from pathlib import Path

import apache_beam as beam
import avro.datafile
import avro.io
import avro.schema
import duckdb
import fastavro
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

import schemas
from pipeline.sinks import WriteAvroFolder
from transforms.output import ToRecords
from transforms.records import (
    DAY,
    TIME_WITH_ZONE,
    Article,
    Dateline,
    DeadLetter,
    MentionedDay,
    Published,
    Syndication,
    TopicHit,
)

HISTORY = Path(schemas.__file__).parent / "history"
INGESTED_MS = 1_795_435_200_000


def article(n: int, topic: str, day: str, **extra) -> Article:
    return Article(
        id=f"id{n}", source=f"pages/{n}.html", kind="html", url=f"https://news.test/{n}",
        title=f"Title {n}", text=f"Body {n}.", authors=("A. Writer",), agency="Reuters",
        dateline=Dateline("SEOUL", "Reuters", "SEOUL (Reuters) -"),
        published=Published(day, "05:20", "+09:00", 1_711_657_200_000, TIME_WITH_ZONE, "meta"),
        mentioned_days=(MentionedDay("said Tuesday", day),), language="en",
        topics=(TopicHit(topic, 0.9, ("title: summit",)),),
        topic_scores=((topic, 0.9), ("missiles", 0.1)), fetched_at="2024-03-29T00:00:00+00:00",
        **extra,
    )


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    """Articles, copies and dead letters written by the pipeline's own Avro sink."""
    folder = tmp_path_factory.mktemp("consumers")
    articles = [article(1, "summitry", "2024-03-29"), article(2, "summitry", "2024-03-29"),
                article(3, "abductions", "2024-03-26")]
    copies = [article(4, "summitry", "2024-03-29",
                      syndicated_from=Syndication("id1", 0.7, 0.98))]
    dead = [DeadLetter("pages/x.html", "decode", "binary", "control bytes", "\x89PNG", 10)]
    with TestPipeline() as p:
        for kind, items in (("articles", articles), ("copies", copies), ("dead_letters", dead)):
            (p | f"Create/{kind}" >> beam.Create(items)
             | f"Records/{kind}" >> ToRecords(kind, INGESTED_MS, "test")
             | f"Write/{kind}" >> WriteAvroFolder(str(folder), kind, num_shards=1))
    return folder


def files(folder: Path, kind: str) -> list[str]:
    found = sorted(glob.glob(str(folder / kind / "*.avro")))
    assert found, f"no {kind} files"
    return found


def test_fastavro_reads_every_record(output):
    for kind, expected in (("articles", 3), ("copies", 1), ("dead_letters", 1)):
        records = [r for path in files(output, kind) for r in fastavro.reader(open(path, "rb"))]
        assert len(records) == expected
    (copy,) = [r for p in files(output, "copies") for r in fastavro.reader(open(p, "rb"))]
    assert copy["syndicated_from"] == {"canonical_id": "id1", "similarity": 0.7, "containment": 0.98}


def test_apache_avro_reads_every_record(output):
    records = []
    for path in files(output, "articles"):
        with avro.datafile.DataFileReader(open(path, "rb"), avro.io.DatumReader()) as reader:
            records.extend(reader)
    assert sorted(r["id"] for r in records) == ["id1", "id2", "id3"]
    assert records[0]["published"]["certainty"] == TIME_WITH_ZONE
    assert records[0]["dateline"]["place"] == "SEOUL"


def duckdb_with_avro() -> duckdb.DuckDBPyConnection:
    """DuckDB with its Avro extension loaded from the PyPI wheel, never downloaded."""
    connection = duckdb.connect(config={"autoinstall_known_extensions": False,
                                        "autoload_known_extensions": False})
    package = resources.files("duckdb_extension_avro")
    (extension,) = [p for p in Path(str(package)).rglob("avro.duckdb_extension")]
    connection.execute(f"LOAD '{extension}'")
    return connection


def test_duckdb_counts_articles_per_topic_per_day(output):
    connection = duckdb_with_avro()
    pattern = str(output / "articles" / "*.avro")
    rows = connection.execute(
        f"""
        SELECT topic, published.date AS day, count(*) AS articles
        FROM (SELECT unnest(topics) AS topic, published FROM read_avro('{pattern}'))
        GROUP BY topic, day ORDER BY topic, day
        """
    ).fetchall()
    assert rows == [("abductions", "2024-03-26", 1), ("summitry", "2024-03-29", 2)]


def _roundtrip(records: list[dict], writer_schema: dict, reader_schema: dict) -> list[dict]:
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(writer_schema), records)
    buffer.seek(0)
    return list(fastavro.reader(buffer, reader_schema=fastavro.parse_schema(reader_schema)))


def test_previous_schema_reads_todays_files(output):
    previous = json.loads((HISTORY / "article.v1.avsc").read_text())
    records = [r for p in files(output, "articles") for r in fastavro.reader(open(p, "rb"))]
    old_view = _roundtrip(records, schemas.load_json("article"), previous)
    assert {r["id"] for r in old_view} == {"id1", "id2", "id3"}
    assert "topic_reasons" not in old_view[0] and old_view[0]["topics"]


def test_todays_schema_reads_previous_files():
    previous = json.loads((HISTORY / "article.v1.avsc").read_text())
    old = {f["name"]: None for f in previous["fields"]}
    old.update(id="old1", source="s", text="t", authors=[], mentioned_days=[], topics=[],
               topic_scores={}, ingested_at=INGESTED_MS, pipeline_version="v1",
               published={"date": "2024-03-25", "time": None, "utc_offset": None,
                          "instant": None, "certainty": DAY, "evidence": "header"})
    (record,) = _roundtrip([old], previous, schemas.load_json("article"))
    assert record["kind"] == "html" and record["topic_reasons"] == {} and record["size_bytes"] == 0


def test_every_field_is_documented_and_new_fields_have_defaults():
    current = schemas.load_json("article")
    previous = {f["name"] for f in json.loads((HISTORY / "article.v1.avsc").read_text())["fields"]}
    for field in current["fields"]:
        assert field.get("doc"), field["name"]
        if field["name"] not in previous:
            assert "default" in field, f"new field {field['name']} needs a default"
    for field in schemas.load_json("dead_letter")["fields"]:
        assert field.get("doc"), field["name"]
