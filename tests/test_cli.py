"""The command line: options, a user's mistakes, retries, progress, the summary, the import graph."""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline import cli, progress
from pipeline.options import UsageError, command_parser, nearest_option, parse_command
from tests.support import REFERENCE_TIME, REPO, SEEDS, read_records
from transforms.decode import decode_page
from transforms.records import Page, StageError

# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ouput", "x"], "unknown option --ouput (did you mean --output?)"),
        (["--topic", "my.toml"], "unknown option --topic (did you mean --topics?)"),
        (["--direct_num_wrkers=2"], "unknown option --direct_num_wrkers (did you mean --direct_num_workers?)"),
        (["--out=x"], "unknown option --out"),  # no abbreviations: --out is not --output
        (["pages.html"], "unexpected argument 'pages.html'"),
        (["--input=a.html", "b.html"], "unexpected argument 'b.html'"),
        (["--max_page_bytes=lots"], "--max_page_bytes: invalid int value: 'lots'"),
    ],
)
def test_mistyped_command_lines_are_refused_naming_the_option(argv, message):
    with pytest.raises(UsageError) as caught:
        parse_command(argv)
    assert message in str(caught.value)


def test_input_takes_several_values_and_beam_options_pass_through():
    command = parse_command(
        ["--input", "a.html", "b.txt", "c.jsonl", "--direct_num_workers=2", "-q", "--input=d/*",
         "--progress_seconds", "2"]
    )
    assert command.args.input == ["a.html", "b.txt", "c.jsonl", "d/*"]
    assert command.verbosity == -1
    # Beam sees its own options and newsbeam's, never the command line's -q.
    assert command.beam_argv == ["--input", "a.html", "b.txt", "c.jsonl",
                                 "--direct_num_workers=2", "--input=d/*"]
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

    from pipeline.options import NewsbeamOptions

    options = PipelineOptions(command.beam_argv)
    assert options.view_as(NewsbeamOptions).input == ["a.html", "b.txt", "c.jsonl", "d/*"]
    assert options.view_as(DirectOptions).direct_num_workers == 2


def test_verbosity_flags():
    assert parse_command(["-v"]).verbosity == 1
    assert parse_command(["-vv"]).verbosity == 2
    assert parse_command([]).verbosity == 0
    with pytest.raises(UsageError):
        parse_command(["-q", "-v"])


def test_nearest_option_is_none_for_nonsense():
    assert nearest_option("--zzzzzzzzzz", command_parser()) is None


def test_help_groups_newsbeams_options_with_defaults_and_points_to_beams(capsys):
    assert cli.run(["--help"]) == 0
    text = capsys.readouterr().out
    for heading in ("input and output:", "stages:", "streaming:", "running:"):
        assert heading in text
    for option in ("--input", "--output", "--topics", "--publishers", "--watch", "--run_attempts",
                   "-q, --quiet", "-v, --verbose"):
        assert option in text
    assert "(default: out)" in text and "(default: 1.0)" in text
    assert "newsbeam run --help-beam" in text
    assert cli.run(["--help-beam"]) == 0
    beam_text = capsys.readouterr().out
    assert "--direct_num_workers" in beam_text and "--runner" in beam_text


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("newsbeam ") and "apache-beam 2.77.0" in out


def test_unknown_command_names_the_nearest(capsys):
    assert cli.main(["rn"]) == 2
    assert "did you mean 'run'?" in capsys.readouterr().err


# ---------------------------------------------------------------- a user's mistakes


def _mistakes(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "folder").mkdir()
    (tmp / "a_file").write_text("x")
    (tmp / "broken.toml").write_text("[topics.x\n")
    (tmp / "inbox").mkdir()
    page = str(SEEDS / "000_ed70e6de03bf0bf0.txt")
    return [
        (["--input", str(tmp / "folder")], "is a folder: give its files"),
        (["--input", str(tmp / "nothing" / "*")], "no file matches --input"),
        (["--input", page, "--output", str(tmp / "a_file")], "is a file, not a folder"),
        (["--input", page, "--topics", str(tmp / "broken.toml")], "not valid TOML"),
        (["--input", page, "--topics", str(tmp / "missing.toml")], "cannot read"),
        (["--input", page, "--publishers", str(tmp / "broken.toml")], "not valid TOML"),
        (["--input", page, "--publishers", str(tmp / "missing.toml")], "cannot read"),
        (["--streaming", "--watch", str(tmp / "absent" / "*")], "does not exist"),
        (["--streaming", "--watch", str(tmp / "inbox")], "is a folder: watch its files"),
        (["--streaming"], "--streaming needs --watch"),
        (["--input", page, "--reference_time", "last Tuesday"], "is not an ISO 8601 instant"),
        (["--input", page, "--run_attempts", "0"], "--run_attempts must be more than 0"),
    ]


def test_a_users_mistake_is_one_line_exit_2_and_nothing_is_deleted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    earlier = tmp_path / "out" / "articles" / "part-00000-of-00001.avro"
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"an earlier run's file")
    for argv, message in _mistakes(tmp_path):
        assert cli.run(argv) == 2, argv
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], (argv, err)
        assert "Traceback" not in err
    assert cli.run(["--ouput", "x"]) == 2
    assert "did you mean --output?" in capsys.readouterr().err
    assert earlier.read_bytes() == b"an earlier run's file"  # nothing read or deleted
    assert not (tmp_path / "x").exists()


def test_invalid_fetched_at_is_a_dead_letter_not_the_files_time():
    line = json.dumps({"url": "https://x.test/a", "text": "Some text.", "fetched_at": "Tuesday"})
    page = Page("feed.jsonl:1", line.encode(), len(line), declared_kind="jsonl",
                fetched_at="2026-01-01T00:00:00+00:00")
    with pytest.raises(StageError) as caught:
        decode_page(page)
    assert caught.value.reason == "bad_fetched_at" and "'Tuesday'" in str(caught.value)
    for given, expected in ((None, "2026-01-01T00:00:00+00:00"),
                            (1700000000, "2023-11-14T22:13:20+00:00")):
        record = {"url": "https://x.test/a", "text": "Some text."}
        if given is not None:
            record["fetched_at"] = given
        body = json.dumps(record).encode()
        doc = decode_page(Page("f.jsonl:1", body, len(body), declared_kind="jsonl",
                               fetched_at="2026-01-01T00:00:00+00:00"))
        assert doc.fetched_at == expected


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize(
    "error, retried",
    [
        (cli.WorkerLost("worker died"), True),
        (ConnectionResetError("peer reset"), True),
        (TimeoutError("slow"), True),
        (OSError(5, "Input/output error"), True),
        (RuntimeError("Worker subprocess exited with 137"), True),
        (FileNotFoundError(2, "No such file"), False),
        (PermissionError(13, "Permission denied"), False),
        (ValueError("bad value"), False),
        (RuntimeError("KeyError: 'title' [while running 'Extract']"), False),
    ],
)
def test_only_failures_a_retry_can_cure_are_retried(error, retried):
    assert cli.is_retryable(error) is retried


class _FailingPipeline:
    def __init__(self, errors: list[BaseException]):
        self._errors = errors

    def run(self):
        if self._errors:
            raise self._errors.pop(0)
        return self

    def wait_until_finish(self):
        return "DONE"


@pytest.mark.parametrize(
    "errors, attempts_made, succeeds",
    [
        ([ConnectionResetError("reset")], 2, True),
        ([ValueError("a bug")], 1, False),
        ([ConnectionResetError("reset"), ConnectionResetError("reset")], 2, False),
    ],
)
def test_run_attempts(monkeypatch, tmp_path, errors, attempts_made, succeeds):
    import pipeline.build

    built = []

    def fake_build(pipeline_, opts, reference, inputs, output=None):
        built.append(1)
        return fake

    fake = _FailingPipeline(list(errors))
    monkeypatch.setattr(pipeline.build, "build", fake_build)
    command = parse_command(["--output", str(tmp_path), "--run_attempts", "2"])
    plan = cli.Plan(command, ["x"], cli.reference_time(REFERENCE_TIME), None)
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(command.beam_argv)
    if succeeds:
        result, staging = cli.run_attempts(plan, options, None)
        assert result is fake and os.path.isdir(staging)
    else:
        with pytest.raises(type(errors[-1])):
            cli.run_attempts(plan, options, None)
    assert len(built) == attempts_made


def test_a_failed_run_is_reported_in_one_line(capsys):
    error = RuntimeError("Pipeline failed\nTraceback ...\n  File 'x.py'\nKeyError: 'title' "
                         "[while running 'Extract/Guarded']")
    assert cli._report_failure(error, 2, verbosity=0) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("newsbeam: run failed: KeyError: 'title'")
    assert "-v for the traceback" in err[1]


# ---------------------------------------------------------------- progress


def test_progress_counts_every_element_through_the_side_channel(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    with TestPipeline() as p:
        _ = p | beam.Create(range(7)) | progress.CountProgress(progress.READ)
    assert progress.read_counts(str(tmp_path))[progress.READ] == 7
    progress._COUNTS.pop(str(tmp_path), None)


def test_progress_line_with_and_without_a_known_total():
    assert progress.progress_line(120, 100, 500, 10.0) == (
        "120/500 pages read, 100 processed, 10.0 pages/s, about 40 s left"
    )
    assert progress.progress_line(120, 100, None, 10.0) == (
        "120 pages read, 100 processed, 10.0 pages/s"
    )
    assert progress.progress_line(500, 500, 500, 50.0).endswith(
        "finding syndicated copies and writing"
    )
    assert progress.progress_line(3, 2, 500, 0.5) == "3/500 pages read, 2 processed"


def test_reporter_reads_what_workers_wrote(tmp_path):
    now = [1000.0]
    (tmp_path / "11.json").write_text(json.dumps({"read": 30, "done": 20, "first": 990.0}))
    (tmp_path / "12.json").write_text(json.dumps({"read": 10, "done": 10, "first": 995.0}))
    reporter = progress.ProgressReporter(str(tmp_path), 100, stream=io.StringIO(),
                                         clock=lambda: now[0])
    assert reporter.report() == "40/100 pages read, 30 processed, 3.0 pages/s, about 23 s left"
    assert reporter.report() is None  # nothing moved since
    reporter.restart()
    assert list(tmp_path.iterdir()) == []


def test_streaming_status_line():
    line = progress.streaming_line(
        {"pages_read": 310, "articles_written": 250, "syndicated_copies": 40, "dead_letters": 20},
        302.0,
    )
    assert line == ("running 5 min 02 s: 310 pages -> 250 articles, 40 copies, "
                    "20 dead letters (1.0 pages/s)")


# ---------------------------------------------------------------- a real run


def test_shell_expanded_glob_reads_every_file_quietly_and_summarises(tmp_path):
    """``--input dir/*`` expanded by the shell: every file is read; -q leaves stderr empty
    (no Beam noise either); the summary names stages, the date range and the languages."""
    pages = sorted(str(p) for p in SEEDS.glob("*.txt"))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "-q", "--input", *pages,
         "--output", str(out), f"--reference_time={REFERENCE_TIME}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"newsbeam: {len(pages)} pages read" in done.stdout
    assert "published: 2018-04-29 to 2024-03-29" in done.stdout
    assert "languages: en 5" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pages_read"] == len(pages) == 5
    assert summary["accounted"]
    assert summary["languages"] == {"en": 5}
    assert summary["published_range"] == {"first": "2018-04-29", "last": "2024-03-29",
                                          "undated": 0}
    assert sum(summary["date_certainty"].values()) == 5
    stages = {row["stage"]: row for row in summary["stages"]}
    assert [row["stage"] for row in summary["stages"]][-2:] == ["dedup", "write"]
    assert stages["decode"]["in"] == 5 and stages["dedup"]["copies"] == 1
    assert stages["extract"]["seconds"] is not None  # the local runner reports stage times
    assert len(read_records(out, "articles")) == 4


def test_progress_lines_appear_on_stderr_while_a_run_works(tmp_path):
    """Not quiet, not a terminal: progress lines at the interval asked for, with the total."""
    folder = tmp_path / "pages"
    folder.mkdir()
    for index in range(12):
        shutil.copy(SEEDS / "000_ed70e6de03bf0bf0.txt", folder / f"{index:02d}.txt")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--input", f"{folder}/*", "--output",
         str(tmp_path / "out"), f"--reference_time={REFERENCE_TIME}", "--progress_seconds=0.05"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "pages read" in line]
    assert lines, done.stderr
    assert all(line.startswith("newsbeam: ") and "/12 pages read" in line for line in lines)
    assert lines[-1].startswith("newsbeam: 12/12 pages read, 12 processed")
    assert "Traceback" not in done.stderr and "apache_beam" not in done.stderr


# ---------------------------------------------------------------- the import graph


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_import_circle_between_the_command_line_and_streaming():
    pipeline_dir = REPO / "pipeline"
    for module in ("streaming", "summary", "progress", "report", "build", "sources", "sinks",
                   "options"):
        path = pipeline_dir / f"{module}.py"
        if path.exists():
            assert "pipeline.cli" not in _imports(path), f"pipeline/{module}.py imports the CLI"


def test_help_read_by_a_reader_that_stops_early_is_no_traceback():
    """``newsbeam run --help | head -1``: a closed pipe ends the command quietly."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a byte is written: every write fails
    try:
        command = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--help"],
                                 stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                 timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in command.stderr, command.stderr
    assert command.returncode == 0
