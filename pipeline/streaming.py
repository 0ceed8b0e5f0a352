"""Streaming: watch a folder (or read Pub/Sub), process each page as it lands, write Avro as it goes.

Two sinks, chosen by runner (see the README's streaming section):
- On Beam's local live runner (FnApiRunner), GroupByKey and window firings do
  not happen while the source runs, so records are written per bundle: each
  bundle's records go to a hidden temporary Avro file that is renamed into
  place when the bundle finishes. A reader never sees a half-written file.
- On runners with full streaming semantics (Dataflow, Flink, TestStream),
  output is windowed (``--window_seconds``) and written by ``fileio.WriteToFiles``.

Event time of a page: its crawler's ``fetched_at`` when the page gives one (a
JSON line's field), else the file's modification time.

Late data (runners with full semantics): syndication runs before windowing,
in the global window, so a late page is still matched against what was seen.
The output windows accept pages up to ``--dedup_ttl_days`` behind the
watermark (the same horizon the pipeline remembers stories for): each late
page is written at once as a further pane of its window, in its own file
(``part-START-END-late-RANDOM.avro``). A page later than that is dropped by
the runner (Dataflow counts it as dropped due to lateness); the local live
runner has no windows and never drops.
"""

from __future__ import annotations

import glob
import json
import logging
import multiprocessing
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import apache_beam as beam
import fastavro
from apache_beam.coders import VarIntCoder
from apache_beam.io import fileio
from apache_beam.io.filesystem import FileMetadata
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms import trigger
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import FixedWindows, GlobalWindow, TimestampedValue
from apache_beam.utils.timestamp import Duration
from apache_beam.utils.windowed_value import PaneInfoTiming

import schemas
from pipeline.options import NewsbeamOptions
from pipeline.progress import setup_logging, streaming_line
from pipeline.sinks import ARTICLES, COPIES, DEAD_LETTERS, OUTPUTS
from pipeline.sources import event_time, read_file
from pipeline.summary import complete, print_summary, write_summary
from transforms.decode import _iso_or_none
from transforms.failures import count
from transforms.records import Page

LOG = logging.getLogger("newsbeam")
PART_SUFFIX = ".part"
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
_JSON_LINE_SOURCE = re.compile(r"^(.*\.(?:jsonl|ndjson)(?:\.gz)?):\d+$", re.IGNORECASE)
LOCAL_RUNNERS = ("DirectRunner", "FnApiRunner", "direct", "SwitchingDirectRunner")
# The parent prints progress this often while the stream runs.
PROGRESS_SECONDS = 10.0


# ---------------------------------------------------------------- watching a folder


def ready_files(pattern: str, stable_seconds: float, now: float) -> list[tuple[str, int, float]]:
    """Files matching ``pattern`` that are complete: not ``*.part``, unchanged for ``stable_seconds``.

    A writer that cannot finish a file within that time writes ``name.part`` and
    renames it when complete (the rename is atomic, so the file is never seen half-written).
    """
    ready = []
    for path in sorted(glob.glob(pattern)):
        if path.endswith(PART_SUFFIX) or os.path.basename(path).startswith(TEMP_PREFIX):
            continue
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue  # renamed or removed between listing and stat
        if not os.path.isfile(path) or now - stat.st_mtime < stable_seconds:
            continue
        ready.append((path, stat.st_size, stat.st_mtime))
    return ready


class _EmitEachPathOnce(beam.DoFn):
    """Keyed by path: the folder is re-listed on every poll, each file goes on once."""

    SEEN = ReadModifyWriteStateSpec("seen", VarIntCoder())

    def process(self, element: tuple[str, tuple[int, float]], seen=beam.DoFn.StateParam(SEEN)):
        path, (size, mtime) = element
        if seen.read():
            return
        seen.write(1)
        yield FileMetadata(path, size, last_updated_in_seconds=mtime)


def _list_folder(tick, pattern: str, stable_seconds: float, skip: frozenset[str]):
    for path, size, mtime in ready_files(pattern, stable_seconds, time.time()):
        if path not in skip:
            yield path, (size, mtime)


class WatchFolder(beam.PTransform):
    """File metadata of each new complete file matching ``pattern``, once, as it appears."""

    def __init__(
        self,
        pattern: str,
        poll_interval: float,
        stable_seconds: float,
        start: float,
        skip: Iterable[str] = (),
    ):
        super().__init__()
        self._pattern = pattern
        self._poll = poll_interval
        self._stable = stable_seconds
        self._start = start  # PeriodicImpulse's default start is fixed at import time
        self._skip = frozenset(skip)

    def expand(self, pbegin):
        return (
            pbegin
            | "Poll" >> PeriodicImpulse(start_timestamp=self._start, fire_interval=self._poll)
            | "List"
            >> beam.FlatMap(
                _list_folder, self._pattern, self._stable, self._skip
            ).with_output_types(tuple[str, tuple[int, float]])
            | "Once" >> beam.ParDo(_EmitEachPathOnce())
        )


def page_event_time(page: Page) -> float:
    """Event time: a JSON line's ``fetched_at`` when given, else the page's (the file's mtime), else 0.

    ``read_file`` stamps every page with its file's mtime; a JSON line's own
    ``fetched_at`` is only read by decode, so it is looked up here first.
    """
    if page.declared_kind == "jsonl":
        seconds = _json_fetched_at(page.body)
        if seconds is not None:
            return seconds
    return event_time(page)


def _read_pages(metadata: FileMetadata, max_bytes: int) -> Iterable[TimestampedValue]:
    count("files_read")
    for page in read_file(metadata, max_bytes):
        yield TimestampedValue(page, page_event_time(page))


def _pubsub_page(message: bytes, published=beam.DoFn.TimestampParam) -> TimestampedValue:
    """A Pub/Sub message as a page: event time its fetched_at, else the message's publish time.

    (Not 0: a page stamped 1970 is behind every window's allowed lateness and
    the runner would drop it, or its dead letter, unseen.)
    """
    page = Page("pubsub", message, len(message), declared_kind="jsonl")
    seconds = _json_fetched_at(message)
    return TimestampedValue(page, published if seconds is None else seconds)


def _json_fetched_at(line: bytes) -> float | None:
    """A JSON line's fetched_at in epoch seconds (read as decode reads it), or None."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None  # decode dead-letters it
    iso = _iso_or_none(record.get("fetched_at")) if isinstance(record, dict) else None
    return datetime.fromisoformat(iso).timestamp() if iso else None


# ---------------------------------------------------------------- sinks


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


class _WriteBundleAvro(beam.DoFn):
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
):
    """Write one kind of record in streaming: per bundle on the local runner, windowed elsewhere.

    Windowed: a window's on-time pane is written when the watermark passes its
    end; each page up to ``allowed_lateness_seconds`` late then fires a further
    pane (its own file); later pages are dropped by the runner.
    """
    folder = os.path.join(output_dir, kind)
    if live_local:
        return records | f"Bundles/{kind}" >> beam.ParDo(_WriteBundleAvro(folder, OUTPUTS[kind]))
    return (
        records
        | f"Window/{kind}"
        >> beam.WindowInto(
            FixedWindows(window_seconds),
            trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
            accumulation_mode=trigger.AccumulationMode.DISCARDING,
            allowed_lateness=Duration(seconds=allowed_lateness_seconds),
        )
        | f"Files/{kind}"
        >> fileio.WriteToFiles(
            path=folder,
            destination=lambda record: kind,
            sink=lambda destination: _AvroFileSink(OUTPUTS[kind]),
            file_naming=window_file_name,
            max_writers_per_bundle=0,
        )
    )


# ---------------------------------------------------------------- wiring


def is_live_local(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner
    return runner is None or str(runner) in LOCAL_RUNNERS


def build_streaming(
    pipeline: beam.Pipeline,
    opts: NewsbeamOptions,
    reference_time: datetime,
    live_local: bool,
    start: float | None = None,
    skip: Iterable[str] = (),
) -> beam.Pipeline:
    """The streaming pipeline: watched folder or Pub/Sub in, Avro out as pages arrive."""
    from pipeline.build import avro_records, process

    if opts.pubsub_subscription:
        from apache_beam.io.gcp.pubsub import ReadFromPubSub

        pages = (
            pipeline
            | "PubSub" >> ReadFromPubSub(subscription=opts.pubsub_subscription)
            | "Pages" >> beam.Map(_pubsub_page)
        )
    else:
        pages = (
            pipeline
            | "Watch"
            >> WatchFolder(
                opts.watch,
                opts.poll_interval,
                opts.stable_seconds,
                time.time() if start is None else start,
                skip,
            )
            | "Read" >> beam.FlatMap(_read_pages, opts.max_page_bytes)
        )
    outputs = process(pages, opts, reference_time, streaming=True)
    for kind, records in avro_records(outputs, reference_time).items():
        write_streaming(
            records,
            opts.output,
            kind,
            live_local,
            opts.window_seconds,
            allowed_lateness_seconds=opts.dedup_ttl_days * 86_400,
        )
    return pipeline


def output_summary(output_dir: str) -> dict:
    """What a streaming run has written so far, read back from its Avro files."""
    totals = {kind: 0 for kind in OUTPUTS}
    reasons: dict[str, int] = {}
    topics: dict[str, int] = {}
    for kind in OUTPUTS:
        for path in sorted(glob.glob(os.path.join(output_dir, kind, "*.avro"))):
            with open(path, "rb") as handle:
                for record in fastavro.reader(handle):
                    totals[kind] += 1
                    if kind == DEAD_LETTERS:
                        reasons[record["reason"]] = reasons.get(record["reason"], 0) + 1
                    elif kind == ARTICLES:
                        for topic in record["topics"]:
                            topics[topic] = topics.get(topic, 0) + 1
    return {
        "pages_read": sum(totals.values()),
        "articles_written": totals[ARTICLES],
        "syndicated_copies": totals[COPIES],
        "dead_letters": totals[DEAD_LETTERS],
        "dead_letters_by_reason": dict(sorted(reasons.items())),
        "articles_per_topic": dict(sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))),
        "accounted": True,
    }


def remove_temporaries(output_dir: str) -> int:
    removed = 0
    for kind in OUTPUTS:
        for path in glob.glob(os.path.join(output_dir, kind, f"{TEMP_PREFIX}*{TEMP_SUFFIX}")):
            os.remove(path)
            removed += 1
    return removed


# The local runner re-runs a deferred source at once, ignoring the delay it asked
# for: idle, it spun about 40-60% of a core. Pacing it costs no latency (the
# source only asks to wait until its next poll) and is capped in case it asks
# for more.
MAX_PACING_SECONDS = 1.0


def paced_fn_api_runner():
    """A FnApiRunner that honours a source's requested resume delay (so it does not busy-poll)."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    class PacedFnApiRunner(FnApiRunner):
        def _add_sdk_delayed_applications_to_deferred_inputs(
            self, bundle_context_manager, bundle_result, deferred_inputs
        ):
            delays = [
                root.requested_time_delay.ToNanoseconds() / 1e9
                for root in bundle_result.process_bundle.residual_roots
            ]
            if delays and min(delays) > 0:
                time.sleep(min(min(delays), MAX_PACING_SECONDS))
            return super()._add_sdk_delayed_applications_to_deferred_inputs(
                bundle_context_manager, bundle_result, deferred_inputs
            )

    return PacedFnApiRunner()


def _child(argv: list[str], reference_iso: str, skip: list[str]) -> None:
    """Run the endless pipeline (in a child process, so the parent can stop it cleanly)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    setup_logging()
    options = PipelineOptions(argv)
    options.view_as(StandardOptions).streaming = True
    opts = options.view_as(NewsbeamOptions)
    pipeline = beam.Pipeline(runner=paced_fn_api_runner(), options=options)
    build_streaming(
        pipeline, opts, datetime.fromisoformat(reference_iso), live_local=True, skip=skip
    )
    pipeline.run().wait_until_finish()


def run_streaming(argv: list[str], options: PipelineOptions, reference_time: datetime) -> int:
    """``newsbeam run --streaming --watch GLOB``: run until SIGINT/SIGTERM, then print the summary."""
    opts = options.view_as(NewsbeamOptions)
    if opts.pubsub_subscription and is_live_local(options):
        print(
            "newsbeam: --pubsub_subscription needs a runner with Pub/Sub (e.g. DataflowRunner)",
            file=sys.stderr,
        )
        return 2
    if not is_live_local(options):
        options.view_as(StandardOptions).streaming = True
        pipeline = beam.Pipeline(options=options)
        build_streaming(pipeline, opts, reference_time, live_local=False)
        # A streaming job on a cluster never finishes: submit it and return (the Dataflow
        # Flex Template launcher, and a person at a terminal, expect the command to end).
        result = pipeline.run()
        LOG.info("streaming job submitted to %s (state %s); stop it with the runner's tools",
                 options.view_as(StandardOptions).runner, result.state)
        return 0
    os.makedirs(opts.output, exist_ok=True)
    remove_temporaries(opts.output)
    skip = sorted(written_sources(opts.output))
    if skip:
        LOG.info("%d pages already written in %s are skipped", len(skip), opts.output)
    child = multiprocessing.get_context("spawn").Process(
        target=_child, args=(list(argv), reference_time.isoformat(), skip), daemon=False
    )
    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    LOG.info("watching %s; output in %s; stop with Ctrl-C or SIGTERM", opts.watch, opts.output)
    child.start()
    last_report = started
    try:
        while child.is_alive() and stop["signal"] is None:
            child.join(0.2)
            if time.monotonic() - last_report >= PROGRESS_SECONDS:
                last_report = time.monotonic()
                LOG.info(streaming_line(output_summary(opts.output), last_report - started))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.is_alive():
            child.terminate()  # SIGTERM: the local runner stops on it (SIGINT can hang it)
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join()
    remove_temporaries(opts.output)
    summary = output_summary(opts.output)
    summary.update(
        inputs=[opts.watch], output=opts.output, seconds=round(time.monotonic() - started, 2)
    )
    summary = complete(summary, opts.output)
    write_summary(opts.output, summary)
    print_summary(summary)
    if stop["signal"] is None and child.exitcode not in (0, None):
        return 1
    return 0
