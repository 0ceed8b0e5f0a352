"""Helpers shared by the end-to-end tests: run newsbeam in-process and read its Avro back."""

from __future__ import annotations

import glob
import json
import os
import shutil
from pathlib import Path

import fastavro

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# A fixed clock: the run's reference time, also every record's ingested_at.
REFERENCE_TIME = "2026-11-23T12:00:00+00:00"


def run_newsbeam(inputs: list[str], output: Path, *extra: str) -> dict:
    """Run ``newsbeam run`` in this process; returns the summary it wrote."""
    from pipeline.cli import run

    argv = [f"--input={pattern}" for pattern in inputs]
    argv += [f"--output={output}", f"--reference_time={REFERENCE_TIME}", *extra]
    assert run(argv) == 0
    return json.loads((output / "summary.json").read_text())


def is_sdk_worker(process) -> bool:
    """Whether a process (psutil) of a run is a Beam SDK worker: Beam's stock worker command,
    or a worker forked by newsbeam's worker server (a child of ``pipeline.worker_fork``)."""
    command = " ".join(process.cmdline())
    if "sdk_worker_main" in command and not command.startswith("/bin/sh"):
        return True
    server = process.parent()
    return (server is not None and "pipeline.worker_fork" in command
            and "pipeline.worker_fork" in " ".join(server.cmdline()))


def read_records(output: Path, kind: str) -> list[dict]:
    """Every record of one output folder (articles, copies, dead_letters), read with fastavro."""
    records = []
    for path in sorted(glob.glob(str(output / kind / "*.avro"))):
        with open(path, "rb") as handle:
            records.extend(fastavro.reader(handle))
    return records


def copy_seeds(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    return folder


def seed_key(record: dict) -> str:
    return os.path.basename(record["source"])[:3]


def comparable(record: dict) -> dict:
    """A record without what legitimately differs between runs (ingested_at, source path)."""
    return {k: v for k, v in record.items() if k not in ("ingested_at", "source", "fetched_at")}
