"""newsbeam's options: one table of flags, read by the command line's own parser and by Beam's.

The command line parses ``newsbeam run`` with its own argparse parser (grouped help, defaults,
unknown options refused); the same flags are registered as ``NewsbeamOptions`` so that
``options.view_as(NewsbeamOptions)`` works in the pipeline, on workers and on any runner.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass, field
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.decode import DEFAULT_MAX_PAGE_BYTES

DEFAULT_INPUT = "seeds/*"
DEFAULT_OUTPUT = "out"

INPUT_OUTPUT = "input and output"
STAGES = "stages"
STREAMING = "streaming"
RUNNING = "running"
GROUPS = (INPUT_OUTPUT, STAGES, STREAMING, RUNNING)


@dataclass(frozen=True)
class Flag:
    """One newsbeam flag: its group in ``--help`` and its argparse arguments."""

    name: str
    group: str
    help: str
    kwargs: dict[str, Any] = field(default_factory=dict)


FLAGS = (
    Flag(
        "--input",
        INPUT_OUTPUT,
        "Page files or globs: HTML (.html, .htm), text captures (.txt), optionally .gz, and "
        "JSON Lines (.jsonl). Takes several values, so a glob the shell expanded reads every "
        "file; repeat the flag or quote a glob ('pages/**/*.html') for Beam to match. "
        f"Default: {DEFAULT_INPUT!r}.",
        {"nargs": "+", "action": "extend", "default": None, "metavar": "FILE_OR_GLOB"},
    ),
    Flag(
        "--output",
        INPUT_OUTPUT,
        "Output folder (local or any Beam filesystem, e.g. gs://): articles/, copies/, "
        "dead_letters/ and summary.json. The Avro files of an earlier run there are replaced.",
        {"default": DEFAULT_OUTPUT, "metavar": "DIR"},
    ),
    Flag(
        "--num_shards",
        INPUT_OUTPUT,
        "Avro files per output folder in batch (0: the runner decides).",
        {"type": int, "default": 0, "metavar": "N"},
    ),
    Flag(
        "--topics",
        STAGES,
        "The desk's taxonomy TOML, checked completely before the run starts. A file that "
        "starts with extends = \"packaged\" adds its topics, terms and rules to the packaged "
        "taxonomy; without it, it replaces it. Default: the packaged "
        "transforms/data/topics.toml.",
        {"default": None, "metavar": "FILE"},
    ),
    Flag(
        "--publishers",
        STAGES,
        "Publisher defaults TOML (time zone, date order per publisher). Default: the packaged "
        "transforms/data/publishers.toml.",
        {"default": None, "metavar": "FILE"},
    ),
    Flag(
        "--max_page_bytes",
        STAGES,
        "Pages larger than this (after gunzip) become dead letters with reason too_large.",
        {"type": int, "default": DEFAULT_MAX_PAGE_BYTES, "metavar": "BYTES"},
    ),
    Flag(
        "--extract_time_limit",
        STAGES,
        "CPU seconds extraction may spend on one page before it becomes a timeout dead "
        "letter (ten times that in wall time stops it too).",
        {"type": float, "default": 5.0, "metavar": "SECONDS"},
    ),
    Flag(
        "--reference_time",
        STAGES,
        "ISO 8601 instant used as 'now' (e.g. 2026-11-23T12:00:00Z): no publication date "
        "after it is accepted for pages without a fetch time, and it is every record's "
        "ingested_at. Default: when the run starts.",
        {"default": None, "metavar": "INSTANT"},
    ),
    Flag(
        "--watch",
        STREAMING,
        "Glob of a folder to watch (with --streaming); each new page file is processed once.",
        {"default": None, "metavar": "GLOB"},
    ),
    Flag(
        "--poll_interval",
        STREAMING,
        "Seconds between looks at the watched folder.",
        {"type": float, "default": 1.0, "metavar": "SECONDS"},
    ),
    Flag(
        "--stable_seconds",
        STREAMING,
        "A file is read once it has not changed for this long (*.part files are never read: "
        "rename when complete).",
        {"type": float, "default": 1.0, "metavar": "SECONDS"},
    ),
    Flag(
        "--dedup_ttl_days",
        STREAMING,
        "How long (in event time) a story is remembered for matching its copies.",
        {"type": float, "default": 7.0, "metavar": "DAYS"},
    ),
    Flag(
        "--window_seconds",
        STREAMING,
        "Output window length on runners with full streaming semantics (Dataflow, Flink).",
        {"type": int, "default": 60, "metavar": "SECONDS"},
    ),
    Flag(
        "--pubsub_subscription",
        STREAMING,
        "Pub/Sub subscription of page messages, each one JSON line of the batch input "
        "format (Dataflow; needs the pubsub extra).",
        {"default": None, "metavar": "SUBSCRIPTION"},
    ),
    Flag(
        "--run_attempts",
        RUNNING,
        "Batch: how many times a run that failed for a reason a retry can cure (a worker "
        "process died, a transient I/O error) is run; output is published only when a run "
        "succeeds, so a retry adds no duplicates. Mistakes in the options are never retried.",
        {"type": int, "default": 2, "metavar": "N"},
    ),
)


class NewsbeamOptions(PipelineOptions):
    """newsbeam's flags as Beam pipeline options (what the pipeline and workers read)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        for flag in FLAGS:
            parser.add_argument(flag.name, help=flag.help, **flag.kwargs)


# ---------------------------------------------------------------- the command line's parser


class UsageError(ValueError):
    """A mistake on the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str):  # argparse's hook for every parse error
        raise UsageError(message)


# Flags of the command line itself, not pipeline options: they never reach Beam.
VERBOSITY_FLAGS = ("-q", "--quiet", "-v", "--verbose")
BEAM_HELP = "--help-beam"
PROGRESS_FLAG = "--progress_seconds"


def _help_text(flag: Flag) -> str:
    default = flag.kwargs.get("default")
    if default is None:
        return flag.help
    return f"{flag.help} (default: {default})"


def command_parser() -> argparse.ArgumentParser:
    """``newsbeam run``'s parser: newsbeam's flags by group, with defaults, and Beam's pointer."""
    parser = _Parser(
        prog="newsbeam run",
        allow_abbrev=False,  # "--out" must not silently mean "--output"
        add_help=False,
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30),
        usage="newsbeam run [--input FILE_OR_GLOB ...] [--output DIR] [--topics FILE] "
        "[options] [Beam options]",
        description="Reads news pages (HTML, text captures, JSON Lines) and writes Avro articles,\n"
        "syndicated copies and dead letters under --output, with summary.json.",
        epilog="Every Apache Beam pipeline option (--runner, --direct_num_workers,\n"
        "--direct_running_mode, Dataflow's --project, ...) is accepted as well:\n"
        f"'newsbeam run {BEAM_HELP}' lists them.\n"
        "Exit status: 0 done, 1 the run failed, 2 a mistake in the command or a file it names.\n"
        "Examples:\n"
        "  newsbeam run --input pages/*.html feed.jsonl --output out\n"
        "  newsbeam run --topics desk.toml --output out\n"
        "  newsbeam run --streaming --watch 'inbox/*' --output out\n"
        "  newsbeam report out",
    )
    parser.formatter_class = _HelpFormatter
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    for flag in FLAGS:
        groups[flag.group].add_argument(flag.name, help=_help_text(flag), **flag.kwargs)
    streaming = groups[STREAMING]
    # Beam's own flag, listed here because it decides the mode; Beam reads it too.
    streaming.add_argument(
        "--streaming",
        action="store_true",
        help="Keep running on --watch (or --pubsub_subscription); Ctrl-C or SIGTERM stops "
        "it with the summary.",
    )
    running = groups[RUNNING]
    talk = running.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true",
                      help="Say nothing but errors and the final summary.")
    talk.add_argument("-v", "--verbose", action="count", default=0,
                      help="Say more: -v adds newsbeam's details, -vv Beam's own log.")
    running.add_argument(
        PROGRESS_FLAG, type=float, default=None, metavar="SECONDS",
        help="Seconds between progress lines on stderr (default: 0.5 on a terminal, where the "
        "line is redrawn in place, 5 in a log; streaming: a status line every 10).",
    )
    running.add_argument("-h", "--help", action="store_true", help="Show this help and exit.")
    running.add_argument(BEAM_HELP, action="store_true", help="List Beam's options and exit.")
    running.add_argument("--version", action="store_true", help="Show the versions and exit.")
    return parser


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's example lines as written."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=30, width=100)


def beam_parser() -> argparse.ArgumentParser:
    """A parser of every Beam pipeline option (every PipelineOptions subclass but ours)."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    class Parser(_BeamArgumentParser):
        def error(self, message: str):
            raise UsageError(message)

    parser = Parser(prog="newsbeam run (Beam options)", allow_abbrev=False, add_help=False)
    seen: dict[str, type] = {}
    for cls in _all_subclasses(PipelineOptions):
        if cls is not NewsbeamOptions and issubclass(cls, PipelineOptions):
            seen.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    for cls in seen.values():
        try:
            cls._add_argparse_args(parser)  # noqa: SLF001 - Beam's own registration hook
        except argparse.ArgumentError:
            continue  # a class registered twice (Beam tolerates it the same way)
    return parser


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def _option_names(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings]  # noqa: SLF001


def nearest_option(name: str, *parsers: argparse.ArgumentParser) -> str | None:
    """The known option closest to a mistyped one (``--ouput`` -> ``--output``), if any."""
    known = [option for parser in parsers for option in _option_names(parser)]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _import_runner_module(argv: list[str]) -> None:
    """A runner named by its module path registers its options on import (e.g. DaskRunner)."""
    import importlib

    for index, arg in enumerate(argv):
        value = None
        if arg.startswith("--runner="):
            value = arg.split("=", 1)[1]
        elif arg == "--runner" and index + 1 < len(argv):
            value = argv[index + 1]
        if value and "." in value:
            try:
                importlib.import_module(value.rsplit(".", 1)[0])
            except ImportError:
                pass  # Beam reports an unknown runner itself, in one line


@dataclass(frozen=True)
class Command:
    """``newsbeam run``'s parsed command line."""

    args: argparse.Namespace
    beam_argv: list[str]  # what Beam's PipelineOptions reads: newsbeam's and Beam's flags
    verbosity: int  # -1 quiet, 0 normal, 1 -v, 2 -vv


def parse_command(argv: list[str]) -> Command:
    """Parse ``newsbeam run``'s arguments; raise UsageError for anything not an option.

    newsbeam's flags are parsed here; what is left must be a Beam option (checked against
    Beam's own parser, since Beam drops unknown arguments silently) or it is refused with
    the nearest valid option named.
    """
    parser = command_parser()
    args, rest = parser.parse_known_args(argv)
    if args.help or args.help_beam or args.version:
        return Command(args, [], 0)
    _import_runner_module(rest)
    beam = beam_parser()
    _, unknown = beam.parse_known_args(rest)
    for arg in unknown:
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            near = nearest_option(name, parser, beam)
            hint = f" (did you mean {near}?)" if near else ""
            raise UsageError(f"unknown option {name}{hint}")
        raise UsageError(
            f"unexpected argument {arg!r}: give several inputs after one --input "
            f"(--input a.html b.html), and options as --name=value"
        )
    beam_argv = _without_command_line_flags(argv)
    verbosity = -1 if args.quiet else min(args.verbose, 2)
    return Command(args, beam_argv, verbosity)


def _without_command_line_flags(argv: list[str]) -> list[str]:
    """``argv`` less the flags that are the command's own (verbosity, progress interval)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == PROGRESS_FLAG:
            skip = True  # and its value
        elif arg.startswith(PROGRESS_FLAG + "=") or arg in VERBOSITY_FLAGS or _is_vv(arg):
            pass
        else:
            kept.append(arg)
    return kept


def _is_vv(arg: str) -> bool:
    return len(arg) > 2 and arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) <= {"v", "q"}


def beam_help() -> str:
    """Beam's own options, for ``newsbeam run --help-beam``."""
    return beam_parser().format_help().replace("[-h]", "").rstrip()


class DaskAddressOptions(PipelineOptions):
    # Here, not in pipeline/dask_runner.py, so that --help and option checks know it
    # without importing Dask.
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--dask_address",
            default=None,
            help="With --runner=dask: the Dask scheduler, e.g. tcp://10.0.0.5:8786 (the same "
            "as Beam's --dask_client_address; without either, a local cluster is started).",
        )
