"""The seeds through Beam's portable Runner API path (the one Flink, Spark and Dataflow use).

Beam's own Python job service and an external SDK worker pool run as separate processes, as
a job server and the SDK harness containers do on a cluster; ``newsbeam run`` submits to them
with ``--runner=PortableRunner --environment_type=EXTERNAL``. Everything runs from a temporary
working directory, so the workers can only find the schemas, taxonomy and publisher table as
package data. The Avro records must equal the DirectRunner's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from tests.support import REFERENCE_TIME, SEEDS, read_records

# Fields that may differ between runs of the same pages for reasons that are not the runner's.
VOLATILE = ("source", "fetched_at", "ingested_at")
KINDS = ("articles", "copies", "dead_letters")
START_SECONDS = 60.0  # for each service to accept connections
RUN_SECONDS = 120.0  # for one newsbeam run; the job hangs (not fails) if workers cannot start
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class PortableServices:
    job_port: int
    worker_pool_port: int
    workdir: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def service_env() -> dict[str, str]:
    """This environment, with its Python first on PATH: the worker pool starts bare ``python``."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # Workers must import newsbeam as installed, not from a source path this process added.
    env.pop("PYTHONPATH", None)
    return env


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path.name} missing)"
    return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])


def start(name: str, args: list[str], workdir: Path) -> subprocess.Popen:
    log = workdir / f"{name}.log"
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=workdir,
            env=service_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers it starts stop with it
        )


def wait_for_grpc(port: int, process: subprocess.Popen, name: str, workdir: Path) -> None:
    """Block until the service on ``port`` accepts a gRPC connection (no polling sleeps)."""
    with grpc.insecure_channel(f"localhost:{port}") as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=START_SECONDS)
        except grpc.FutureTimeoutError:
            state = "exited" if process.poll() is not None else "running"
            pytest.fail(
                f"{name} ({state}) did not listen on {port} in {START_SECONDS} s:\n"
                f"{tail(workdir / f'{name}.log')}"
            )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def portable(tmp_path_factory) -> Iterator[PortableServices]:
    """Beam's job service and an external SDK worker pool, each its own process."""
    workdir = tmp_path_factory.mktemp("portable-cwd")
    job_port, pool_port = free_port(), free_port()
    services = [
        (
            "job_service",
            job_port,
            [
                "apache_beam.runners.portability.local_job_service_main",
                "--port",
                str(job_port),
                "--staging_dir",
                str(workdir / "staging"),
            ],
        ),
        (
            "worker_pool",
            pool_port,
            ["apache_beam.runners.worker.worker_pool_main", "--service_port", str(pool_port)],
        ),
    ]
    processes = []
    try:
        for name, _, args in services:
            processes.append(start(name, args, workdir))
        for (name, port, _), process in zip(services, processes, strict=True):
            wait_for_grpc(port, process, name, workdir)
        yield PortableServices(job_port, pool_port, workdir)
    finally:
        for process in processes:
            stop(process)


def newsbeam_run(workdir: Path, output: Path, *runner_args: str) -> dict:
    """``newsbeam run`` on the seeds as its own process, from ``workdir``; returns its summary."""
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "run",
        f"--input={SEEDS / '*'}",
        f"--output={output}",
        f"--reference_time={REFERENCE_TIME}",
        *runner_args,
    ]
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=service_env(),
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"newsbeam run {' '.join(runner_args)} did not finish in {RUN_SECONDS} s:\n"
            f"{exc.stderr or ''}\njob service:\n{tail(workdir / 'job_service.log')}\n"
            f"worker pool:\n{tail(workdir / 'worker_pool.log')}"
        )
    assert done.returncode == 0, (
        f"newsbeam run {' '.join(runner_args)} failed ({done.returncode}):\n{done.stderr[-4000:]}"
    )
    return json.loads((output / "summary.json").read_text("utf-8"))


def comparable(output: Path) -> dict[str, list[str]]:
    """Each output's records minus the volatile fields, as sorted canonical JSON."""
    return {
        kind: sorted(
            json.dumps(
                {k: v for k, v in record.items() if k not in VOLATILE}, sort_keys=True, default=str
            )
            for record in read_records(output, kind)
        )
        for kind in KINDS
    }


def test_portable_runner_writes_what_the_direct_runner_writes(portable):
    workdir = portable.workdir
    started = time.monotonic()
    direct = newsbeam_run(workdir, workdir / "out-direct", "--runner=DirectRunner")
    direct_seconds = time.monotonic() - started
    started = time.monotonic()
    remote = newsbeam_run(
        workdir,
        workdir / "out-portable",
        "--runner=PortableRunner",
        f"--job_endpoint=localhost:{portable.job_port}",
        "--environment_type=EXTERNAL",
        f"--environment_config=localhost:{portable.worker_pool_port}",
    )
    portable_seconds = time.monotonic() - started
    print(f"DirectRunner {direct_seconds:.1f} s, PortableRunner {portable_seconds:.1f} s")

    expected = comparable(workdir / "out-direct")
    assert expected["articles"], "the DirectRunner wrote no articles: nothing to compare"
    assert comparable(workdir / "out-portable") == expected
    # Counters travel back through the job service's metrics too.
    for key in ("pages_read", "articles_written", "syndicated_copies", "dead_letters"):
        assert remote[key] == direct[key], key
    assert remote["accounted"]
    # The job really went through the job service (it staged the job's artifacts) and ran in
    # an SDK worker that the external pool started, not in the submitting process.
    assert any((workdir / "staging").iterdir())
    assert "Starting worker" in (workdir / "worker_pool.log").read_text("utf-8")
