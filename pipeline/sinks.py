"""Sinks: Avro files under DIR/articles, DIR/copies and DIR/dead_letters, in batch and streaming.

Batch: ``WriteAvroFolder`` (Beam's WriteToAvro) into the run's staging folder,
published by ``pipeline/publish.py`` when the run has succeeded.

Streaming, chosen by runner (see the README's streaming section):
- On Beam's local live runner (FnApiRunner), GroupByKey and window firings do
  not happen while the source runs, so records are written per bundle: each
  bundle's records go to a hidden temporary Avro file that is renamed into
  place when the bundle finishes. A reader never sees a half-written file.
- On runners with full streaming semantics (Dataflow, Flink, TestStream),
  output is windowed (``--window_seconds``) and written by ``fileio.WriteToFiles``.
"""

from __future__ import annotations

import glob
import os
import re
import uuid
from datetime import UTC, datetime

import apache_beam as beam
import fastavro
from apache_beam.io import fileio
from apache_beam.io.avroio import WriteToAvro
from apache_beam.transforms import trigger
from apache_beam.transforms.window import FixedWindows, GlobalWindow
from apache_beam.utils.timestamp import Duration
from apache_beam.utils.windowed_value import PaneInfoTiming

import schemas

ARTICLES = "articles"
COPIES = "copies"
DEAD_LETTERS = "dead_letters"
OUTPUTS = {ARTICLES: schemas.ARTICLE, COPIES: schemas.ARTICLE, DEAD_LETTERS: schemas.DEAD_LETTER}
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
# A JSON line's source is ``file:line``, a WARC record's ``archive:offset``.
_JSON_LINE_SOURCE = re.compile(r"^(.*\.(?:jsonl|ndjson|warc)(?:\.gz)?):\d+$", re.IGNORECASE)


class WriteAvroFolder(beam.PTransform):
    """Write Avro records of one kind to ``DIR/<kind>/part-SSSSS-of-NNNNN.avro``.

    Beam writes each shard to a temporary folder and renames it into place only
    when the whole write has succeeded; the batch run writes into a staging
    folder that it publishes only when every kind has been written.
    """

    def __init__(self, output_dir: str, kind: str, num_shards: int = 0):
        super().__init__()
        self._prefix = os.path.join(output_dir, kind, "part")
        self._schema = schemas.parsed(OUTPUTS[kind])
        self._shards = num_shards

    def expand(self, records):
        return records | WriteToAvro(
            self._prefix,
            schema=self._schema,
            file_name_suffix=".avro",
            num_shards=self._shards,
            codec="deflate",
        )


# ---------------------------------------------------------------- streaming


def file_of(source: str) -> str:
    """The file a record came from: its source without a JSON line's ``:N``."""
    match = _JSON_LINE_SOURCE.match(source)
    return match.group(1) if match else source


def written_sources(output_dir: str) -> set[str]:
    """Files already written under ``output_dir`` by an earlier run (so a restart skips them)."""
    files = set()
    for kind in OUTPUTS:
        for path in glob.glob(os.path.join(output_dir, kind, "*.avro")):
            with open(path, "rb") as handle:
                files.update(file_of(record["source"]) for record in fastavro.reader(handle))
    return files


def remove_temporaries(output_dir: str) -> int:
    """Remove the hidden temporary files a stopped streaming run left (never renamed into place)."""
    removed = 0
    for kind in OUTPUTS:
        for path in glob.glob(os.path.join(output_dir, kind, f"{TEMP_PREFIX}*{TEMP_SUFFIX}")):
            os.remove(path)
            removed += 1
    return removed


class WriteBundleAvro(beam.DoFn):
    """Each bundle's records to one Avro file: written under a hidden temporary name, then renamed."""

    def __init__(self, folder: str, schema_name: str):
        self._folder = folder
        self._schema_name = schema_name
        self._records: list[dict] = []

    def setup(self) -> None:
        self._schema = schemas.parsed(self._schema_name)
        os.makedirs(self._folder, exist_ok=True)

    def start_bundle(self) -> None:
        self._records = []

    def process(self, record: dict) -> None:
        self._records.append(record)

    def finish_bundle(self) -> None:
        if not self._records:
            return
        name = f"part-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.avro"
        temp = os.path.join(self._folder, f"{TEMP_PREFIX}{name}{TEMP_SUFFIX}")
        with open(temp, "wb") as handle:
            fastavro.writer(handle, self._schema, self._records, codec="deflate")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, os.path.join(self._folder, name))
        self._records = []


class _AvroFileSink(fileio.FileSink):
    def __init__(self, schema_name: str):
        self._schema_name = schema_name
        self._records: list[dict] = []

    def open(self, fh) -> None:
        self._handle = fh
        self._records = []

    def write(self, record: dict) -> None:
        self._records.append(record)

    def flush(self) -> None:
        fastavro.writer(
            self._handle, schemas.parsed(self._schema_name), self._records, codec="deflate"
        )
        self._records = []


def window_file_name(window, pane, shard_index, total_shards, compression, destination) -> str:
    """``part-START-END-TIMING-RANDOM.avro``: every firing of a window gets its own file.

    Beam's ``default_file_naming`` leaves the pane out, so a late pane got the
    on-time file's name and replaced it (measured on the DirectRunner, where
    the pane index is also 0 on every firing; only its timing is kept). A
    random part keeps each firing's file apart; a retried rename finds its
    temporary file already moved, so a retry adds no duplicate.
    """
    name = "part"
    if window != GlobalWindow():
        start = window.start.to_utc_datetime().strftime("%Y%m%dT%H%M%S")
        end = window.end.to_utc_datetime().strftime("%Y%m%dT%H%M%S")
        name += f"-{start}-{end}"
    timing = PaneInfoTiming.to_string(pane.timing).lower() if pane is not None else "pane"
    return f"{name}-{timing}-{uuid.uuid4().hex[:12]}.avro"


def write_streaming(
    records,
    output_dir: str,
    kind: str,
    live_local: bool,
    window_seconds: int,
    allowed_lateness_seconds: float = 0,
    label: str = "",
):
    """Write one kind of record in streaming: per bundle on the local runner, windowed elsewhere.

    Windowed: a window's on-time pane is written when the watermark passes its
    end; each page up to ``allowed_lateness_seconds`` late then fires a further
    pane (its own file); later pages are dropped by the runner. ``label`` tells
    apart several writers of one kind.
    """
    folder = os.path.join(output_dir, kind)
    name = f"{kind}{label}"
    if live_local:
        return records | f"Bundles/{name}" >> beam.ParDo(WriteBundleAvro(folder, OUTPUTS[kind]))
    return (
        records
        | f"Window/{name}"
        >> beam.WindowInto(
            FixedWindows(window_seconds),
            trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
            accumulation_mode=trigger.AccumulationMode.DISCARDING,
            allowed_lateness=Duration(seconds=allowed_lateness_seconds),
        )
        | f"Files/{name}"
        >> fileio.WriteToFiles(
            path=folder,
            destination=lambda record: kind,
            sink=lambda destination: _AvroFileSink(OUTPUTS[kind]),
            file_naming=window_file_name,
            max_writers_per_bundle=0,
        )
    )
