"""Faults and determinism: a killed worker, a failed run, and the same records whatever the order."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time

import fastavro
import psutil
import pytest

import schemas
from tests.corpus import write_corpus
from tests.hostile_pages import hostile_pages
from tests.support import REFERENCE_TIME, copy_seeds, is_sdk_worker, read_records, run_newsbeam

MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
KILL_DEADLINE_SECONDS = 60
# Enough pages that the workers are still busy when one is killed.
FAULT_PAGES = 500


def start(folder, output, *extra) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipeline.cli", "run", f"--input={folder}/*",
               f"--output={output}", f"--reference_time={REFERENCE_TIME}", *MULTI, *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_one_worker(run: subprocess.Popen) -> int:
    """SIGKILL the first SDK worker of ``run`` once it has been working for a moment."""
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    parent = psutil.Process(run.pid)
    while time.monotonic() < deadline and run.poll() is None:
        for child in parent.children(recursive=True):
            try:
                worker = is_sdk_worker(child)
                busy = child.cpu_times().user > 0.5  # started and past its imports
            except psutil.Error:
                continue
            if worker and busy:
                child.kill()
                return child.pid
        time.sleep(0.05)  # polling interval of the check
    raise AssertionError("no SDK worker to kill")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault-in")
    write_corpus(folder, FAULT_PAGES)
    return folder


def test_a_killed_worker_is_retried_and_nothing_is_lost_or_doubled(corpus, tmp_path):
    run = start(corpus, tmp_path)
    kill_one_worker(run)
    stdout, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr[-3000:]
    assert "running again" in stderr
    records = read_records(tmp_path, "articles") + read_records(tmp_path, "copies")
    records += read_records(tmp_path, "dead_letters")
    sources = [os.path.basename(r["source"]) for r in records]
    assert len(sources) == len(set(sources)) == FAULT_PAGES
    assert not list(tmp_path.rglob("beam-temp-*"))


def test_a_failed_run_leaves_no_partial_avro(corpus, tmp_path):
    run = start(corpus, tmp_path, "--run_attempts=1")
    kill_one_worker(run)
    _, stderr = run.communicate(timeout=600)
    assert run.returncode == 1 and "run failed" in stderr
    assert not list(tmp_path.rglob("*.avro"))
    assert not list(tmp_path.rglob("beam-temp-*"))


def record_bytes(output, kind: str) -> list[bytes]:
    """Each record serialised alone (ingested_at zeroed), sorted: comparable byte for byte."""
    schema = schemas.parsed("dead_letter" if kind == "dead_letters" else "article")
    encoded = []
    for record in read_records(output, kind):
        record["ingested_at"] = 0
        record["source"] = os.path.basename(record["source"])
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, schema, record)
        encoded.append(buffer.getvalue())
    return sorted(encoded)


def test_same_records_in_any_order_and_with_two_workers(tmp_path):
    folder = copy_seeds(tmp_path / "in")
    for name, (data, _) in hostile_pages(huge_bytes=9 * 1024 * 1024).items():
        if name not in ("bomb.html.gz", "deep.html"):  # keep this run quick
            (folder / name).write_bytes(data)
    names = sorted(p.name for p in folder.iterdir())
    forward = run_newsbeam([str(folder / n) for n in names], tmp_path / "a")
    backward = run_newsbeam([str(folder / n) for n in reversed(names)], tmp_path / "b", *MULTI)
    assert forward["pages_read"] == backward["pages_read"] > len(names)
    for kind in ("articles", "copies", "dead_letters"):
        assert record_bytes(tmp_path / "a", kind) == record_bytes(tmp_path / "b", kind), kind
    shutil.rmtree(tmp_path / "in")
