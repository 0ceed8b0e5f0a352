"""Streaming: watch a folder (or read Pub/Sub), process each page as it lands, write Avro as it goes.

The sources (watched folder, Pub/Sub) are in ``pipeline/sources.py`` and the
sinks in ``pipeline/sinks.py``; this module wires a streaming run and runs it.

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

The books (local runs): the reader writes a ledger entry per file it read (how many
pages it gave) under ``DIR/.ledger/``; at the end the summary compares it, file by
file, with the records written. Stopping drains first: the watcher stops taking new
files and the run ends once what was read has been written (or ``DRAIN_SECONDS``
have passed; then the books say what is missing and the command exits non-zero).
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import stat
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import datetime

import apache_beam as beam
import fastavro
from apache_beam.io.filesystem import FileMetadata
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.window import TimestampedValue

from pipeline.accounting import records_in, streaming_books, written_by_file
from pipeline.options import NewsbeamOptions
from pipeline.progress import setup_logging, streaming_line
from pipeline.publish import OutputInUse, take_output_lock
from pipeline.sinks import (
    ARTICLES,
    COPIES,
    DEAD_LETTERS,
    OUTPUTS,
    remove_temporaries,
    write_streaming,
    written_sources,
)
from pipeline.sources import (
    ReadPubSub,
    WatchFolder,
    display_path,
    input_roots,
    read_watched,
)
from pipeline.summary import complete, print_summary, write_summary

LOG = logging.getLogger("newsbeam")
LOCAL_RUNNERS = ("DirectRunner", "FnApiRunner", "direct", "SwitchingDirectRunner")
# The parent prints progress this often while the stream runs.
PROGRESS_SECONDS = 10.0
LEDGER_FOLDER = ".ledger"
STOP_FILE = ".draining"
# On stop, how long to wait for what was read to be written before stopping anyway.
DRAIN_SECONDS = 30.0
DRAIN_POLL_SECONDS = 0.2


# ---------------------------------------------------------------- the reader's ledger


def _ledger_path(output_dir: str, source: str) -> str:
    name = hashlib.sha1(source.encode("utf-8")).hexdigest()[:24]
    return os.path.join(output_dir, LEDGER_FOLDER, f"{name}.json")


def _read_and_record(metadata: FileMetadata, max_bytes: int, roots: tuple[str, ...],
                     output_dir: str) -> Iterable[TimestampedValue]:
    """The pages of one watched file, then a ledger entry saying how many there were."""
    pages = 0
    for stamped in read_watched(metadata, max_bytes, roots):
        pages += 1
        yield stamped
    source = display_path(metadata.path)
    entry = {"file": source, "pages": pages,
             "special": pages == 0 and _is_special(metadata.path)}
    path = _ledger_path(output_dir, source)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(entry, handle)
    os.replace(temp, path)


def _is_special(path: str) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_ledger(output_dir: str) -> list[dict]:
    entries = []
    for path in sorted(glob.glob(os.path.join(output_dir, LEDGER_FOLDER, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            entries.append(json.load(handle))
    return entries


def forget_unwritten(output_dir: str, written: set[str]) -> int:
    """Drop ledger entries of files with no record written: a restart reads them again."""
    dropped = 0
    for path in glob.glob(os.path.join(output_dir, LEDGER_FOLDER, "*")):
        if path.endswith(".tmp"):
            os.remove(path)
            continue
        with open(path, encoding="utf-8") as handle:
            entry = json.load(handle)
        if entry["pages"] and entry["file"] not in written:
            os.remove(path)
            dropped += 1
    return dropped


def books(output_dir: str) -> dict:
    """The streaming run's books: the ledger against the records written, file by file."""
    entries = read_ledger(output_dir)
    ledger = {e["file"]: e["pages"] for e in entries if not e.get("special")}
    special = sum(1 for e in entries if e.get("special"))
    return streaming_books(ledger, special, written_by_file(output_dir))


def _drained(output_dir: str) -> bool:
    """Cheap check: as many records written as pages in the ledger (block headers only)."""
    pages = sum(e["pages"] for e in read_ledger(output_dir))
    written = sum(records_in(glob.glob(os.path.join(output_dir, kind, "*.avro")))
                  for kind in OUTPUTS)
    return written >= pages


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
        pages = pipeline | "PubSub" >> ReadPubSub(opts.pubsub_subscription)
    else:
        files = pipeline | "Watch" >> WatchFolder(
            opts.watch,
            opts.poll_interval,
            opts.stable_seconds,
            time.time() if start is None else start,
            skip,
            stop=os.path.join(opts.output, STOP_FILE) if live_local else "",
        )
        roots = input_roots([opts.watch])
        if live_local:
            pages = files | "Read" >> beam.FlatMap(
                _read_and_record, opts.max_page_bytes, roots, opts.output
            )
        else:
            pages = files | "Read" >> beam.FlatMap(read_watched, opts.max_page_bytes, roots)
    outputs = process(pages, opts, reference_time, streaming=True)
    # The local live runner runs a Flatten of several inputs only when the source ends
    # (never, in streaming): every dead letter was lost. There each stage's dead letters
    # get their own writer.
    streams = avro_records(outputs, reference_time, split_dead_letters=live_local)
    for name, records in streams.items():
        kind = DEAD_LETTERS if name.startswith(DEAD_LETTERS) else name
        write_streaming(
            records,
            opts.output,
            kind,
            live_local,
            opts.window_seconds,
            allowed_lateness_seconds=opts.dedup_ttl_days * 86_400,
            label=name.removeprefix(kind),
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
    }


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
    try:
        lock = take_output_lock(opts.output)
    except OutputInUse as exc:
        print(f"newsbeam: {exc}", file=sys.stderr)
        return 2
    try:
        return _run_local(argv, opts, reference_time)
    finally:
        lock.release()


def _run_local(argv: list[str], opts: NewsbeamOptions, reference_time: datetime) -> int:
    """The local live run: the pipeline in a child process, drained and stopped on a signal."""
    remove_temporaries(opts.output)
    stop_file = os.path.join(opts.output, STOP_FILE)
    if os.path.exists(stop_file):
        os.remove(stop_file)
    skip = sorted(written_sources(opts.output))
    forget_unwritten(opts.output, set(skip))
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
        if child.is_alive():
            _drain(opts.output, stop_file, child)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.is_alive():
            child.terminate()  # SIGTERM: the local runner stops on it (SIGINT can hang it)
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join()
        if os.path.exists(stop_file):
            os.remove(stop_file)
    remove_temporaries(opts.output)
    summary = output_summary(opts.output)
    summary["books"] = books(opts.output)
    summary["accounted"] = summary["books"]["balanced"]
    summary.update(
        inputs=[opts.watch], output=opts.output, seconds=round(time.monotonic() - started, 2)
    )
    summary = complete(summary, opts.output)
    write_summary(opts.output, summary)
    print_summary(summary)
    if not summary["accounted"]:
        return 1
    if stop["signal"] is None and child.exitcode not in (0, None):
        return 1
    return 0


def _drain(output_dir: str, stop_file: str, child) -> None:
    """Stop taking new files, then wait until what was read is written (or DRAIN_SECONDS)."""
    with open(stop_file, "w", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    LOG.info("stopping: writing what was read (up to %.0f s)", DRAIN_SECONDS)
    deadline = time.monotonic() + DRAIN_SECONDS
    # A poll of the watcher may be under way when the stop file appears: give it one.
    time.sleep(DRAIN_POLL_SECONDS * 2)
    while time.monotonic() < deadline and child.is_alive():
        if _drained(output_dir):
            return
        time.sleep(DRAIN_POLL_SECONDS)
