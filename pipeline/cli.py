"""The ``newsbeam`` command line: ``newsbeam run [options]``, ``newsbeam report OUT``, ``--version``.

``run``'s life: parse the command line (a mistake stops here, nothing read or deleted) ->
check what the user named (inputs, output, taxonomy, publisher table, times) -> clear the
earlier output -> run attempts (retrying only what a retry can cure) -> summary -> exit code.
Exit codes: 0 done, 1 the run failed, 2 a mistake in the command or in a file it names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import glob
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import tomllib
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from pipeline import signatures, worker_fork
from pipeline.accounting import batch_books, written_counts
from pipeline.options import (
    DEFAULT_INPUT,
    VERBOSITY_FLAGS,
    Command,
    UsageError,
    beam_help,
    command_parser,
    parse_command,
)
from pipeline.progress import (
    VERBOSITY_ENV,
    ProgressReporter,
    setup_logging,
    worker_noise_filtered,
)
from pipeline.publish import (
    OutputInUse,
    discard_staging,
    new_staging,
    publish,
    take_output_lock,
)
from pipeline.runners import (
    LOCAL_RUNNER,
    RunnerUnavailable,
    absolute,
    local_batch_runner,
    prepare_runner,
    runs_in_process,
)
from pipeline.sinks import OUTPUTS
from pipeline.sources import check_patterns, is_jsonl, is_local
from pipeline.summary import (
    SUMMARY_FILE,
    complete,
    counters,
    print_summary,
    stage_seconds,
    summarize,
    write_summary,
)

LOG = logging.getLogger("newsbeam")
COMMANDS = ("run", "report")
USAGE = """usage: newsbeam run [--input FILE_OR_GLOB ...] [--output DIR] [options] [Beam options]
       newsbeam report OUT [--to FILE]
       newsbeam --version

Reads news pages (HTML, text captures, JSON Lines) and writes Avro articles,
syndicated copies and dead letters under DIR (default ./out); report draws a
run's output as one HTML page.
  newsbeam run                           the seed pages in ./seeds, output in ./out
  newsbeam run --input pages/*.html feed.jsonl --output out
  newsbeam run --direct_num_workers=2 --direct_running_mode=multi_processing
  newsbeam run --streaming --watch 'inbox/*' --output out
  newsbeam report out                    out/report.html
'newsbeam run --help' lists newsbeam's options; 'newsbeam run --help-beam' Beam's."""
# JSON Lines files are counted line by line for the progress estimate only up to this size.
COUNT_LINES_UP_TO_BYTES = 256 * 1024 * 1024
# Markers of failures that another attempt can cure, in the text of what the runner raised.
TRANSIENT_MARKERS = (
    "Worker subprocess",
    "Channel closed",
    "StatusCode.UNAVAILABLE",
    "StatusCode.DEADLINE_EXCEEDED",
    "Connection reset",
    "Broken pipe",
    "Too many open files",
    "Resource temporarily unavailable",
)


def version_text() -> str:
    """``newsbeam 0.1.0; schema 2; trafilatura 2.3.1; apache-beam 2.77.0``."""
    from transforms.output import pipeline_version

    return pipeline_version()


def user_error(message: str) -> int:
    """A mistake of the user's: one line on stderr, exit status 2."""
    print(f"newsbeam: {message}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------- checking what the user named


def reference_time(value: str | None) -> datetime:
    """``--reference_time`` as an aware instant (UTC when no offset is given); now by default."""
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--reference_time {value!r} is not an ISO 8601 instant (e.g. 2026-11-23T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_inputs(patterns: list[str]) -> dict[str, int]:
    """Files each ``--input`` matches; UsageError for a folder or a pattern matching nothing."""
    for pattern in patterns:
        if is_local(pattern) and os.path.isdir(pattern):
            raise UsageError(
                f"--input {pattern!r} is a folder: give its files, e.g. --input '{pattern.rstrip('/')}/*'"
            )
    try:
        return check_patterns(patterns)
    except (ValueError, BeamIOError) as exc:
        raise UsageError(str(exc)) from None


def check_output(output: str) -> None:
    """The output folder must be a folder we can write in (local: checked; remote: by Beam)."""
    if not is_local(output):
        return
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"--output {output!r} is a file, not a folder")
    probe = output
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe.rstrip("/"))
    probe = probe or "."
    if not os.path.isdir(probe):
        raise UsageError(f"--output {output!r}: {probe!r} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--output {output!r}: no permission to write in {probe!r}")


def check_tables(topics: str | None, publishers: str | None) -> None:
    """Load the taxonomy and the publisher table now, so a mistake costs no pipeline start."""
    from transforms.dates import load_publishers
    from transforms.topics import load_taxonomy

    try:
        load_taxonomy(topics)
    except ValueError as exc:  # TaxonomyError names the file, the place and the problem
        raise UsageError(_one_line(exc)) from None
    if publishers is None:
        return
    try:
        load_publishers(publishers)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"publisher table {publishers}: not valid TOML: {_one_line(exc)}") from None
    except OSError as exc:
        raise UsageError(f"publisher table {publishers}: cannot read: {_one_line(exc)}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"publisher table {publishers}: {_one_line(exc)}") from None


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (``inbox/2026-*/x`` -> ``inbox``)."""
    cut = min((i for i, c in enumerate(pattern) if c in "*?["), default=len(pattern))
    head = pattern[:cut]
    return head if cut == len(pattern) else os.path.dirname(head)


def check_streaming(args) -> None:
    if args.streaming and not (args.watch or args.pubsub_subscription):
        raise UsageError(
            "--streaming needs --watch GLOB (a folder to watch, e.g. --watch 'inbox/*') "
            "or --pubsub_subscription"
        )
    if args.watch and args.input:
        raise UsageError("--input and --watch cannot go together: --watch is the streaming input")
    if args.watch and is_local(args.watch):
        if os.path.isdir(args.watch):
            raise UsageError(
                f"--watch {args.watch!r} is a folder: watch its files with "
                f"--watch '{args.watch.rstrip('/')}/*'"
            )
        base = _glob_base(args.watch) or "."
        if not os.path.isdir(base):
            raise UsageError(f"--watch {args.watch!r}: the folder {base!r} does not exist")


def check_numbers(args) -> None:
    positive = {"run_attempts": args.run_attempts, "poll_interval": args.poll_interval,
                "max_page_bytes": args.max_page_bytes,
                "extract_time_limit": args.extract_time_limit,
                "window_seconds": args.window_seconds, "dedup_ttl_days": args.dedup_ttl_days}
    for name, value in positive.items():
        if value <= 0:
            raise UsageError(f"--{name} must be more than 0, not {value}")
    if args.progress_seconds is not None and args.progress_seconds <= 0:
        raise UsageError(f"--progress_seconds must be more than 0, not {args.progress_seconds}")
    for name, value in {"stable_seconds": args.stable_seconds, "num_shards": args.num_shards}.items():
        if value < 0:
            raise UsageError(f"--{name} must not be negative, not {value}")


def count_pages(patterns: list[str]) -> int | None:
    """How many pages the inputs hold, for the time-left estimate; None when unknown.

    A page file is one page; a JSON Lines file is counted line by line when it is local and
    not huge (counting is a fast byte scan), else the total is unknown.
    """
    total = 0
    jsonl_bytes = 0
    for pattern in patterns:
        if not is_local(pattern):
            return None  # listing a bucket again only for an estimate is not worth it
        for path in glob.glob(pattern, recursive=True):
            if not os.path.isfile(path):
                continue
            if not is_jsonl(path):
                total += 1
                continue
            if path.lower().endswith(".gz"):
                return None
            jsonl_bytes += os.path.getsize(path)
            if jsonl_bytes > COUNT_LINES_UP_TO_BYTES:
                return None
            total += _count_lines(path)
    return total


def _count_lines(path: str) -> int:
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


@dataclass(frozen=True)
class Plan:
    """What a checked command will do."""

    command: Command
    inputs: list[str]
    reference: datetime
    total_pages: int | None
    files_matched: int = 0


def check_command(command: Command) -> Plan:
    """Everything that can be checked before the pipeline starts; UsageError on a mistake."""
    args = command.args
    check_numbers(args)
    check_streaming(args)
    reference = reference_time(args.reference_time)
    check_output(args.output)
    check_tables(args.topics, args.publishers)
    if args.watch or args.pubsub_subscription:
        return Plan(command, [], reference, None)
    inputs = args.input or [DEFAULT_INPUT]
    matched = check_inputs(inputs)
    LOG.info("%d files match %s", sum(matched.values()), shown(inputs))
    return Plan(command, inputs, reference, count_pages(inputs), sum(matched.values()))


def shown(values: list[str], limit: int = 3) -> str:
    """The first few of many values (a shell-expanded glob can be thousands of paths)."""
    if len(values) <= limit:
        return " ".join(values)
    return f"{' '.join(values[:limit])} ... ({len(values) - limit} more)"


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# ---------------------------------------------------------------- the output folder


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
        if not is_local(output):  # object stores have no folders: delete what is under them
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


# ---------------------------------------------------------------- attempts


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


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_retryable(exc: BaseException) -> bool:
    """Whether running again can cure this failure: a lost worker, a transient I/O or network
    error. A mistake (a missing or unreadable file, a bad value) or a bug fails the same way
    every time, so it is reported at once."""
    for link in _chain(exc):
        if isinstance(link, WorkerLost | ConnectionError | TimeoutError):
            return True
        if isinstance(link, FileNotFoundError | PermissionError | IsADirectoryError
                      | NotADirectoryError | FileExistsError):
            return False
        if isinstance(link, OSError) and link.errno is not None:
            return True  # EIO, ENOSPC freed, EMFILE, a network filesystem's hiccup
    text = str(exc)
    return any(marker in text for marker in TRANSIENT_MARKERS)


def run_attempts(plan: Plan, options, reporter: ProgressReporter | None):
    """Build and run the batch pipeline, again while a failure is one a retry can cure.

    Each attempt writes into its own staging folder (discarded when the attempt fails).
    Returns Beam's result and the staging folder; raises the last failure when no attempt
    succeeded.
    """
    import apache_beam as beam

    from pipeline.build import build
    from pipeline.options import NewsbeamOptions

    opts = options.view_as(NewsbeamOptions)
    attempts = max(1, opts.run_attempts)
    if threading.current_thread() is threading.main_thread():
        fail_fast_on_lost_workers()
    for attempt in range(1, attempts + 1):
        if reporter is not None and attempt > 1:
            reporter.restart()
        staging = new_staging(opts.output)
        try:
            pipeline = build(beam.Pipeline(options=options), opts, plan.reference, plan.inputs,
                             staging)
            _RUN_LOST.clear()
            _RUN_IN_PROGRESS.set()
            result = pipeline.run()
            result.wait_until_finish()
            return result, staging
        except (Exception, WorkerLost) as exc:  # noqa: BLE001 - retried or reported below
            remove_beam_temporaries(staging)
            discard_staging(staging)
            # Beam's local runners do not retry a lost worker; nothing is published before
            # the whole run succeeds, so running again cannot duplicate anything.
            if attempt == attempts or not is_retryable(exc):
                raise
            LOG.warning("run failed (%s); running again, attempt %d of %d",
                        _one_line(exc), attempt + 1, attempts)
        finally:
            _RUN_IN_PROGRESS.clear()
            _RUN_LOST.clear()
    raise AssertionError("unreachable")  # the loop returns or raises


def _report_failure(exc: BaseException, attempts: int, verbosity: int) -> int:
    if verbosity >= 1:
        traceback.print_exception(exc, file=sys.stderr)
    tried = f" after {attempts} attempts" if attempts > 1 and is_retryable(exc) else ""
    cause = _root_cause(exc)
    print(f"newsbeam: run failed{tried}: {cause}", file=sys.stderr)
    if verbosity < 1:
        print("newsbeam: run again with -v for the traceback", file=sys.stderr)
    return 1


def _root_cause(exc: BaseException) -> str:
    """The innermost error's line (Beam wraps a step's error in several layers of text)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if ":" in line and not line.startswith(("File ", "[while running", "Traceback")):
            return line[:300]
    return _one_line(exc)


# ---------------------------------------------------------------- run


def _beam_log_options(command: Command) -> list[str]:
    """Beam's workers log at INFO unless told otherwise: at -vv they may; else only errors."""
    given = any(arg.startswith("--default_sdk_harness_log_level") for arg in command.beam_argv)
    return [] if given or command.verbosity >= 2 else ["--default_sdk_harness_log_level=ERROR"]


def _multi_processing(options) -> bool:
    from apache_beam.options.pipeline_options import DirectOptions

    return options.view_as(DirectOptions).direct_running_mode == "multi_processing"


def _run_with_progress(plan: Plan, options):
    """``run_attempts`` with the progress line (unless -q) and Beam's worker noise filtered."""
    verbosity = plan.command.verbosity
    filtered = verbosity < 2 and _multi_processing(options)
    tty = sys.stderr.isatty()  # before fd 2 may become the filter's pipe
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(worker_noise_filtered()) if filtered else None
        if verbosity < 0:
            return run_attempts(plan, options, None)
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="newsbeam-progress-"))
        reporter = stack.enter_context(ProgressReporter(
            folder, plan.total_pages, stream=stream, interval=plan.command.args.progress_seconds,
            tty=tty,
        ))
        return run_attempts(plan, options, reporter)



def run(argv: list[str]) -> int:
    """``newsbeam run``: parse, check, clear the earlier output, run attempts, summarise."""
    try:
        return _run(argv)
    finally:
        worker_fork.stop()  # started here or by the ``newsbeam`` command (pipeline/launch.py)


def _run(argv: list[str]) -> int:
    try:
        command = parse_command(argv)
    except UsageError as exc:
        return user_error(f"{exc} ('newsbeam run --help' lists the options)")
    if command.args.help:
        print(command_parser().format_help().rstrip())
        return 0
    if command.args.help_beam:
        print(beam_help())
        return 0
    if command.args.version:
        print(version_text())
        return 0
    os.environ[VERBOSITY_ENV] = str(command.verbosity)  # a streaming child says as much
    setup_logging(command.verbosity)
    signatures.install()  # a third of the pipeline's construction time (pipeline/signatures.py)
    args = command.args
    streaming = bool(args.watch or args.pubsub_subscription)

    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    options = PipelineOptions(command.beam_argv + _beam_log_options(command))
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = "DirectRunner"
    if not streaming:  # the DirectRunner's batch path, without its Prism attempt
        standard.runner = local_batch_runner(standard.runner)
    try:  # --runner=dask; absolute paths for workers elsewhere (pipeline/runners.py)
        runner = prepare_runner(options)
    except RunnerUnavailable as exc:
        return user_error(str(exc))
    if runner == LOCAL_RUNNER and _multi_processing(options):
        # Its workers import Beam and the stages while this process checks and builds.
        worker_fork.start()
    else:
        worker_fork.stop()
    try:
        plan = check_command(command)
    except UsageError as exc:
        return user_error(str(exc))
    if not runs_in_process(runner):
        plan = dataclasses.replace(plan, inputs=[absolute(p) for p in plan.inputs])
    if streaming:
        from pipeline.streaming import run_streaming

        return run_streaming(command.beam_argv, options, plan.reference)

    try:
        lock = take_output_lock(args.output)
    except OutputInUse as exc:
        return user_error(str(exc))
    try:
        return _run_batch(plan, options)
    finally:
        lock.release()


def _run_batch(plan: Plan, options) -> int:
    """The batch run, holding the output's lock: staged, its books checked, then published."""
    args = plan.command.args
    removed = clear_previous_output(args.output)
    if removed:
        LOG.info("removed %d Avro files of an earlier run in %s", removed, args.output)
    started = time.monotonic()
    try:
        result, staging = _run_with_progress(plan, options)
    except (Exception, WorkerLost) as exc:  # noqa: BLE001 - reported in one line
        return _report_failure(exc, max(1, args.run_attempts), plan.command.verbosity)
    from pipeline.build import claims_folder  # imported by the run already
    from transforms.claimcheck import remove_folder

    # The articles syndication parked are all written by now: not kept, nor looked at.
    remove_folder(claims_folder(staging))
    try:
        totals = counters(result)
    except NotImplementedError:  # e.g. Beam's own DaskRunner: nothing to account with
        from apache_beam.options.pipeline_options import StandardOptions

        discard_staging(staging)
        print(f"newsbeam: runner {options.view_as(StandardOptions).runner} reports no "
              "metrics, so pages read cannot be checked against records written; not "
              "reporting success (on Dask use --runner=dask)", file=sys.stderr)
        return 1
    summary = summarize(totals, time.monotonic() - started, plan.inputs, args.output)
    books = batch_books(totals, plan.files_matched, written_counts(staging))
    summary.update(books=books, accounted=books["balanced"])
    seconds = stage_seconds(result)
    if not books["balanced"]:
        # Unbalanced books mean records were lost or doubled: the output is not complete,
        # so it is not published; what was written stays in the staging folder to look at.
        summary["output"] = staging
        summary = complete(summary, staging, seconds)
        write_summary(staging, summary)
        print_summary(summary)
        print(f"newsbeam: the run's books do not balance; output NOT published, kept in "
              f"{staging}", file=sys.stderr)
        return 1
    publish(staging, args.output)
    summary = complete(summary, args.output, seconds)
    write_summary(args.output, summary)  # last: a folder with summary.json is complete
    print_summary(summary)
    return 0


# ---------------------------------------------------------------- report


def report(argv: list[str]) -> int:
    """``newsbeam report OUT [--to FILE]``: one self-contained HTML page of a run's output."""
    from pipeline.options import _Parser

    parser = _Parser(prog="newsbeam report", allow_abbrev=False,
                     description="Draw a run's output folder as one self-contained HTML page "
                     "(it opens without a network).")
    parser.add_argument("output", metavar="OUT", help="the run's --output folder")
    parser.add_argument("--to", metavar="FILE", default=None,
                        help="where to write the page (default: OUT/report.html)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    if any(arg in ("-h", "--help") for arg in argv):
        parser.print_help()
        return 0
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return user_error(f"report: {exc} ('newsbeam report --help')")
    from pipeline.report import ReportError, write_report

    try:
        path = write_report(args.output, args.to)
    except ReportError as exc:
        return user_error(f"report: {exc}")
    if not args.quiet:
        print(f"newsbeam: report written to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] in ("--version", "-V", "version"):
        print(version_text())
        return 0
    command, rest = argv[0], argv[1:]
    if command == "report":
        return report(rest)
    if command != "run":
        near = difflib.get_close_matches(command, COMMANDS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        hint += "; options go after the command: newsbeam run --input ..." if command.startswith("-") else ""
        return user_error(f"unknown command {command!r}{hint}; 'newsbeam --help' lists them")
    try:
        code = run(rest)
    except BrokenPipeError:  # the reader went away (``newsbeam run --help | head``)
        code = 0
    # A failed attempt can leave Beam's non-daemon threads waiting on a dead worker, and the
    # interpreter would wait for them forever at exit: the result is final, so leave now.
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


__all__ = ["VERBOSITY_FLAGS", "main", "report", "run", "write_summary"]

if __name__ == "__main__":
    sys.exit(main())
