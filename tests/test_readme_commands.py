"""Every command in README.md runs as written (after the README's install), on the seeds.

How README.md is read (conventions for whoever edits it):
- Commands are the lines of ```sh code blocks; a line ending in a backslash continues on the
  next; a ``#`` that starts a word outside quotes starts a comment; ``a && b`` is two commands.
  A ``VAR=value;`` prefix is kept with the command it belongs to.
- Python examples are ```python code blocks; each runs as a script after the commands.
- Each command runs with bash in a temporary folder holding a copy of ``seeds/``, a ``.venv``
  that is this test's environment, and the files named in ``PLACEHOLDERS`` below: a command
  that names another file needs an entry there (or an exclusion).
- ``NEWSBEAM_README=draft.md pytest tests/test_readme_commands.py`` checks a draft.
- A command is skipped only when it matches ``EXCLUDED`` (each with its reason): the install
  itself (checked instead: it must install every extra the examples need), the test suite,
  endless streaming runs, clusters and cloud storage, and benchmarks that need ../shared.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, SEEDS

# NEWSBEAM_README=draft.md checks a draft of the README before it replaces README.md.
README = Path(os.environ.get("NEWSBEAM_README") or REPO / "README.md")
# Command pattern -> why the test does not run it.
EXCLUDED = {
    r"tests\.benchmarks|\$D\b|\.\./shared": "a benchmark: minutes of work, or the dev sets in "
        "../shared, which the suite must not need (benchmarks are commands, not tests)",
    r"^python3? -m venv\b": "creates the environment this test runs in (.ci/run runs it)",
    r"\bpip install\b": "the install: test_readme_install_covers_its_examples checks it",
    r"-m pytest\b": "the test suite itself",
    r"--streaming\b": "runs until stopped; tests/test_streaming_watch.py runs it on a folder",
    r"--runner[= ]dask\b|\bdask (scheduler|worker)\b": "needs a Dask cluster; "
        "tests/test_dask_runner.py starts one and runs newsbeam on it",
    r"gs://|s3://|--runner[= ](Dataflow|Flink|Spark|Portable|apache_beam)|\b(docker|kubectl|gcloud|helm|flink|spark-submit)\b":
        "needs a cluster or cloud storage; tests/test_deploy.py and test_portable_runner.py "
        "cover those paths",
}
# Extras an example needs, by what it imports or runs.
NEEDS_EXTRA = {r"\bimport duckdb\b|duckdb_extension_avro": "query",
               r"\bnewsbeam report\b|\bimport plotly\b": "report"}
SEED_TEXTS = sorted(SEEDS.glob("*.txt"))


def _seed_html(path: Path) -> str:
    title, *rest = [line for line in path.read_text().splitlines() if line.strip()]
    paragraphs = "".join(f"<p>{line}</p>" for line in rest)
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body><article>" \
           f"<h1>{title}</h1>{paragraphs}</article></body></html>"


def _make_pages(root: Path) -> None:
    """``pages/*.html`` and ``pages/sectionN/*.html`` (for ``pages/**/*.html``)."""
    for index, seed in enumerate(SEED_TEXTS[:3]):
        folder = root / "pages" if index == 0 else root / "pages" / f"section{index}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{seed.stem}.html").write_text(_seed_html(seed))


def _make_feed(root: Path) -> None:
    (root / "feed").mkdir(exist_ok=True)
    lines = [json.dumps({"url": f"https://example.test/{s.stem}", "text": s.read_text(),
                         "fetched_at": "2026-11-23T10:00:00Z"}) for s in SEED_TEXTS[3:]]
    (root / "feed" / "crawl.jsonl").write_text("\n".join(lines) + "\n")


def _make_topics(root: Path) -> None:
    shutil.copy(REPO / "transforms" / "data" / "topics.toml", root / "my_desk_topics.toml")


def _make_crawl(root: Path) -> None:
    """``crawl/*.warc.gz`` and ``crawl/*.warc``: the seeds as HTML responses (warcio)."""
    from tests.warc_archives import archive_bytes, html_response

    specs = [html_response(f"https://example.test/{s.stem}.html", _seed_html(s).encode())
             for s in SEED_TEXTS]
    (root / "crawl").mkdir(exist_ok=True)
    (root / "crawl" / "news.warc.gz").write_bytes(archive_bytes(specs, compress=True))
    (root / "crawl" / "news.warc").write_bytes(archive_bytes(specs, compress=False))


# Files the README's commands name, and how the test makes them (from the seeds).
PLACEHOLDERS = {
    "crawl/*.warc": _make_crawl,  # also crawl/*.warc.gz
    "pages/**/*.html": _make_pages,  # also pages/*.html
    "feed/*.jsonl": _make_feed,
    "my_desk_topics.toml": _make_topics,
    "inbox": lambda root: (root / "inbox").mkdir(exist_ok=True),
}


# ---------------------------------------------------------------- reading the README


def code_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """(line number of the opening fence, body) of each fenced block in ``language``."""
    blocks = []
    for match in re.finditer(rf"^```{language}[ \t]*\n(.*?)^```", text, re.M | re.S):
        blocks.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    return blocks


def _cut_comment(line: str) -> str:
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def _split_and(command: str) -> list[str]:
    parts, quote, start = [], None, 0
    index = 0
    while index < len(command):
        char = command[index]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif command.startswith("&&", index):
            parts.append(command[start:index].strip())
            start = index + 2
            index += 1
        index += 1
    parts.append(command[start:].strip())
    return [part for part in parts if part]


def shell_commands(text: str) -> list[tuple[int, str]]:
    """(README line, command) of every command in the README's sh blocks."""
    commands = []
    for first_line, body in code_blocks(text, "sh"):
        pending, pending_line = "", None
        for offset, raw in enumerate(body.splitlines()):
            line = raw.rstrip()
            if pending_line is None:
                pending_line = first_line + 1 + offset
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            whole = _cut_comment(pending + line)
            pending = ""
            if whole.strip():
                prefix = ""
                assignment = re.match(r"^((?:\w+=\S*;\s*)+)(.*)$", whole.strip())
                if assignment:  # "D=../shared/dev; python -m ..." keeps its variable
                    prefix, whole = assignment.group(1), assignment.group(2)
                commands.extend((pending_line, prefix + part) for part in _split_and(whole))
            pending_line = None
    return commands


def excluded(command: str) -> str | None:
    for pattern, reason in EXCLUDED.items():
        if re.search(pattern, command):
            return reason
    return None


TEXT = README.read_text(encoding="utf-8") if README.exists() else ""
COMMANDS = shell_commands(TEXT)
RUNNABLE = [(line, c) for line, c in COMMANDS if excluded(c) is None]
PYTHON = code_blocks(TEXT, "python")


# ---------------------------------------------------------------- the reader itself


def test_readme_reader():
    text = (
        "```sh\n"
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/newsbeam run\n"
        "newsbeam run --input 'pages/#1/*.html' \\\n"
        "    --output out   # a comment\n"
        "D=../shared/dev; python -m tests.benchmarks.x --data $D/x\n"
        "```\n"
        "```python\nprint(1)\n```\n"
    )
    assert shell_commands(text) == [
        (2, "python3 -m venv .venv"),
        (2, ".venv/bin/pip install -e ."),
        (2, ".venv/bin/newsbeam run"),
        (3, "newsbeam run --input 'pages/#1/*.html'      --output out"),
        (5, "D=../shared/dev; python -m tests.benchmarks.x --data $D/x"),
    ]
    assert [excluded(c) is None for _, c in shell_commands(text)] == [False, False, True, True,
                                                                     False]
    assert code_blocks(text, "python") == [(7, "print(1)\n")]


def test_readme_has_commands_to_run():
    assert RUNNABLE, "no runnable sh command found in README.md"


# ---------------------------------------------------------------- the install


def _install_extras(command: str) -> set[str]:
    match = re.search(r"pip install[^&|;]*?\.\[([^\]]+)\]", command)
    return {extra.strip() for extra in match.group(1).split(",")} if match else set()


def test_readme_install_covers_its_examples():
    installs = [c for _, c in COMMANDS
                if re.search(r"\bpip install\b", c) and "test" not in _install_extras(c)]
    assert installs, "the README has no install command"
    extras = _install_extras(installs[0])
    examples = [c for _, c in COMMANDS] + [body for _, body in PYTHON]
    needed = {extra for pattern, extra in NEEDS_EXTRA.items()
              if any(re.search(pattern, example) for example in examples)}
    assert needed <= extras, f"the README's install {installs[0]!r} lacks {needed - extras}"


# ---------------------------------------------------------------- running them


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(SEEDS, root / "seeds")
    os.symlink(sys.prefix, root / ".venv")  # ".venv/bin/newsbeam" is this environment's
    for make in PLACEHOLDERS.values():
        make(root)
    return root


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)  # the installed package, as a user has it
    return env


def _bash(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -euo pipefail; {command}"], cwd=cwd,
                          env=_environment(), capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("line, command", RUNNABLE, ids=[f"README:{n}" for n, _ in RUNNABLE])
def test_readme_command_runs_as_written(workspace, line, command):
    done = _bash(command, workspace)
    hint = ("" if done.returncode != 2 else
            "\n(a file the command names may be missing: add it to PLACEHOLDERS)")
    assert done.returncode == 0, (
        f"README.md line {line}: {command}\nexit {done.returncode}\n{done.stderr[-3000:]}{hint}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("line, code", PYTHON, ids=[f"README:{n}" for n, _ in PYTHON])
def test_readme_python_example_runs(workspace, line, code):
    if not (workspace / "out" / "articles").exists():
        assert _bash("newsbeam run -q", workspace).returncode == 0
    script = workspace / f"readme_{line}.py"
    script.write_text(code)
    done = subprocess.run([str(Path(sys.prefix) / "bin" / "python"), str(script)],
                          cwd=workspace, env=_environment(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"README.md line {line}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"README.md line {line} printed nothing"
