"""The local worker server (pipeline/worker_fork.py), its client and the command's early start.

That a run with forked workers writes the records of a one-process run is checked in
test_faults_and_determinism.py (two workers, same bytes), and that a killed forked worker
makes the attempt fail and be retried, there too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline import worker_fork
from pipeline.launch import asks_for_worker_processes

CLIENT = str(worker_fork.CLIENT)
# A worker environment without the runner's addresses: Beam's harness stops at once.
NO_RUNNER = {k: v for k, v in os.environ.items()
             if k not in ("CONTROL_API_SERVICE_DESCRIPTOR", "LOGGING_API_SERVICE_DESCRIPTOR")}


@pytest.mark.parametrize("argv, expected", [
    (["run", "--direct_num_workers=2", "--direct_running_mode=multi_processing"], True),
    (["run", "--direct_running_mode", "multi_processing"], True),
    (["run", "--input", "a.html"], False),
    (["run", "--direct_running_mode=multi_threading"], False),
    (["run", "--direct_running_mode"], False),
    (["report", "out", "--direct_running_mode=multi_processing"], False),
    (["run", "--watch=inbox/*", "--direct_running_mode=multi_processing"], False),
    (["run", "--streaming", "--direct_running_mode=multi_processing"], False),
    ([], False),
])
def test_the_command_asks_for_worker_processes(argv, expected):
    assert asks_for_worker_processes(argv) is expected


def client(socket_path: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-S", CLIENT, socket_path], env=NO_RUNNER,
                          capture_output=True, text=True, timeout=120)


def test_a_worker_is_forked_from_the_server_and_its_status_comes_back(tmp_path):
    server = worker_fork.ForkServer()
    try:
        done = client(server.socket_path)
    finally:
        server.stop()
    # The forked harness fails for want of the runner's address; its traceback and status
    # come back through the client, and the traceback is the forked worker's.
    assert done.returncode == 1
    assert "CONTROL_API_SERVICE_DESCRIPTOR" in done.stderr
    assert "worker_fork.py" in done.stderr
    assert not os.path.exists(server.socket_path)


def test_without_a_server_the_client_runs_beams_stock_worker(tmp_path):
    done = client(str(tmp_path / "no-server.sock"))
    assert done.returncode != 0
    assert "CONTROL_API_SERVICE_DESCRIPTOR" in done.stderr
    assert "worker_fork.py" not in done.stderr
    assert "sdk_worker_main" in done.stderr


def test_the_server_ends_when_stopped_and_is_started_once():
    first = worker_fork.start()
    try:
        assert worker_fork.start() is first
        assert worker_fork.worker_command() == first.command()
        process = first._process
    finally:
        worker_fork.stop()
    assert process.returncode == 0
    assert worker_fork.worker_command() is None
