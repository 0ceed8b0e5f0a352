"""The ``newsbeam`` command line: ``newsbeam run [--input GLOB ...] [--output DIR] [Beam options]``."""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.options import DEFAULT_INPUT, NewsbeamOptions
from pipeline.runners import RunnerUnavailable, count_written, prepare_runner, unbalanced
from pipeline.sinks import OUTPUTS
from pipeline.sources import check_patterns
from transforms.failures import METRICS_NAMESPACE
from transforms.output import WRITTEN_TOPIC_PREFIX

LOG = logging.getLogger("newsbeam")
SUMMARY_FILE = "summary.json"
USAGE = """usage: newsbeam run [--input GLOB ...] [--output DIR] [--topics FILE] [Beam options]

Reads news pages (HTML, text captures, JSON Lines) and writes Avro articles,
syndicated copies and dead letters under DIR (default ./out).
  newsbeam run                           the seed pages in ./seeds, output in ./out
  newsbeam run --input 'pages/*.html' --input 'feed/*.jsonl' --output out
  newsbeam run --direct_num_workers=2 --direct_running_mode=multi_processing
  newsbeam run --streaming --watch 'inbox/*' --output out
Options: newsbeam run --help lists every newsbeam and Beam option."""


def setup_logging() -> None:
    # apache_beam logs through the root logger on import; force replaces its handler.
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("apache_beam", "root"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def reference_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class WorkerLost(BaseException):
    """A Beam worker died; the local runner would otherwise wait for it forever.

    A BaseException, so that no ``except Exception`` inside the runner swallows it.
    """


_RUN_IN_PROGRESS = threading.Event()
_RUN_LOST = threading.Event()
# While a lost run has not ended, the main thread is signalled again this often: the first
# signal may land where the runner swallows or delays it.
RESIGNAL_SECONDS = 2.0


def fail_fast_on_lost_workers() -> None:
    """Turn a dead local worker into an exception in the main thread.

    Beam's local multi-processing runner notices a dead worker in a background
    thread ("Worker subprocess exited", "Channel closed prematurely", a gRPC
    error) and raises there, while the main thread keeps waiting for results
    that never come. While a run is in progress, any exception escaping a
    background thread is re-raised in the main thread (through a real signal,
    which interrupts a blocking wait) so the attempt fails and can be retried.
    """
    previous_hook = threading.excepthook

    def hook(args) -> None:
        if _RUN_IN_PROGRESS.is_set() and not _RUN_LOST.is_set():
            _RUN_LOST.set()
            threading.Thread(target=_signal_until_ended, daemon=True).start()
        previous_hook(args)

    def raise_lost(signum, frame) -> None:
        if _RUN_IN_PROGRESS.is_set():  # a signal queued after the attempt ended is moot
            raise WorkerLost("a Beam worker thread or process failed during the run")

    threading.excepthook = hook
    signal.signal(signal.SIGUSR1, raise_lost)


def _signal_until_ended() -> None:
    while _RUN_LOST.is_set() and _RUN_IN_PROGRESS.is_set():
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(RESIGNAL_SECONDS)


def _is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) is None  # no "gs://"-like scheme: the local disk


def _delete_matching(pattern: str) -> int:
    """Delete what ``pattern`` matches on any Beam filesystem (gs://, ...); how many."""
    try:
        paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    except BeamIOError:
        return 0
    if paths:
        FileSystems.delete(paths)
    return len(paths)


def remove_beam_temporaries(output: str) -> int:
    """Remove the temporary folders a failed Beam write leaves (``<kind>/beam-temp-*``)."""
    removed = 0
    for kind in OUTPUTS:
        if not _is_local(output):  # object stores have no folders: delete what is under them
            removed += _delete_matching(FileSystems.join(output, kind, "beam-temp-**"))
            continue
        for path in glob.glob(os.path.join(output, kind, "beam-temp-*")):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def clear_previous_output(output: str) -> int:
    """Remove the Avro files and summary of an earlier run in ``output``; returns how many."""
    removed = sum(_delete_matching(FileSystems.join(output, kind, "*.avro")) for kind in OUTPUTS)
    summary = FileSystems.join(output, SUMMARY_FILE)
    if FileSystems.exists(summary):
        FileSystems.delete([summary])
    return removed + remove_beam_temporaries(output)


def counters(result) -> dict[str, int]:
    """newsbeam's counters of a finished run, summed over steps."""
    totals: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    for metric in query["counters"]:
        value = metric.committed if metric.committed is not None else metric.attempted
        totals[metric.key.metric.name] = totals.get(metric.key.metric.name, 0) + int(value or 0)
    return totals


def summarize(totals: dict[str, int], seconds: float, inputs: list[str], output: str) -> dict:
    """The run's summary: pages in, records out, dead letters by reason, articles per topic."""
    pages = totals.get("pages_read", 0)
    articles = totals.get("articles_written", 0)
    copies = totals.get("copies_written", 0)
    dead = totals.get("dead_letters_written", 0)
    return {
        "inputs": inputs,
        "output": output,
        "pages_read": pages,
        "articles_written": articles,
        "syndicated_copies": copies,
        "dead_letters": dead,
        "dead_letters_by_reason": dict(
            sorted(
                (name.removeprefix("dropped_"), n)
                for name, n in totals.items()
                if name.startswith("dropped_") and n
            )
        ),
        "articles_per_topic": dict(
            sorted(
                (
                    (name.removeprefix(WRITTEN_TOPIC_PREFIX), n)
                    for name, n in totals.items()
                    if name.startswith(WRITTEN_TOPIC_PREFIX) and n
                ),
                key=lambda item: (-item[1], item[0]),
            )
        ),
        "accounted": pages == articles + copies + dead,
        "seconds": round(seconds, 2),
    }


def write_summary(output: str, summary: dict) -> None:
    """The run's summary as ``output/summary.json`` (on any Beam filesystem)."""
    if _is_local(output):
        os.makedirs(output, exist_ok=True)
    text = json.dumps(summary, indent=2) + "\n"
    with FileSystems.create(FileSystems.join(output, SUMMARY_FILE), "application/json") as out:
        out.write(text.encode("utf-8"))


def print_summary(summary: dict) -> None:
    print(
        f"newsbeam: {summary['pages_read']} pages read -> {summary['articles_written']} articles, "
        f"{summary['syndicated_copies']} syndicated copies, {summary['dead_letters']} dead letters "
        f"in {summary['seconds']} s"
    )
    topics = ", ".join(f"{t} {n}" for t, n in summary["articles_per_topic"].items()) or "none"
    print(f"  articles per topic: {topics}")
    reasons = ", ".join(f"{r} {n}" for r, n in summary["dead_letters_by_reason"].items()) or "none"
    print(f"  dead letters by reason: {reasons}")
    if not summary["accounted"]:
        print("  WARNING: pages read != articles + copies + dead letters", file=sys.stderr)
    print(f"  output: {summary['output']}/{{articles,copies,dead_letters}}/*.avro, summary.json")


def run(argv: list[str]) -> int:
    """``newsbeam run``: build the pipeline from ``argv`` and run it to the end (or until stopped)."""
    options = PipelineOptions(argv)
    opts = options.view_as(NewsbeamOptions)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = "DirectRunner"
    try:  # --runner=dask; absolute paths for workers elsewhere (pipeline/runners.py)
        prepare_runner(options)
    except RunnerUnavailable as exc:
        print(f"newsbeam: {exc}", file=sys.stderr)
        return 2
    if opts.watch or opts.pubsub_subscription:
        from pipeline.streaming import run_streaming

        return run_streaming(argv, options, reference_time(opts.reference_time))
    inputs = opts.input or [DEFAULT_INPUT]
    try:
        matched = check_patterns(inputs)
    except ValueError as exc:
        print(f"newsbeam: {exc}", file=sys.stderr)
        return 2
    LOG.info("%d files match %s", sum(matched.values()), ", ".join(inputs))
    removed = clear_previous_output(opts.output)
    if removed:
        LOG.info("removed %d Avro files of an earlier run in %s", removed, opts.output)
    from pipeline.build import build

    started = time.monotonic()
    reference = reference_time(opts.reference_time)
    attempts = max(1, opts.run_attempts)
    if threading.current_thread() is threading.main_thread():
        fail_fast_on_lost_workers()
    for attempt in range(1, attempts + 1):
        try:
            _RUN_LOST.clear()
            _RUN_IN_PROGRESS.set()
            result = build(beam.Pipeline(options=options), opts, reference, inputs).run()
            result.wait_until_finish()
            _RUN_IN_PROGRESS.clear()
            break
        except (Exception, WorkerLost) as exc:  # noqa: BLE001 - retried whole, then reported
            _RUN_IN_PROGRESS.clear()
            _RUN_LOST.clear()
            remove_beam_temporaries(opts.output)
            # Beam's local runners do not retry a lost worker; Beam publishes output only
            # when the whole run succeeds, so running again cannot duplicate anything.
            first_line = (str(exc).splitlines() or [repr(exc)])[0][:200]
            if attempt == attempts:
                print(f"newsbeam: run failed after {attempts} attempt(s): {first_line}",
                      file=sys.stderr)
                return 1
            LOG.warning("run failed (%s); running again, attempt %d of %d",
                        first_line, attempt + 1, attempts)
    try:
        totals = counters(result)
    except NotImplementedError:  # e.g. Beam's own DaskRunner: nothing to account with
        print(f"newsbeam: runner {standard.runner} reports no metrics, so pages read cannot "
              "be checked against records written; not reporting success (on Dask use "
              "--runner=dask)", file=sys.stderr)
        return 1
    problems = unbalanced(totals, count_written(opts.output))
    summary = summarize(totals, time.monotonic() - started, inputs, opts.output)
    write_summary(opts.output, summary)
    print_summary(summary)
    for problem in problems:
        print(f"newsbeam: the run's books do not balance: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command != "run":
        print(f"newsbeam: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    if rest and rest[0] in ("-h", "--help"):
        print(USAGE)
        PipelineOptions(["--help"])
        return 0
    setup_logging()
    code = run(rest)
    # A failed attempt can leave Beam's non-daemon threads waiting on a dead worker, and the
    # interpreter would wait for them forever at exit: the result is final, so leave now.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
