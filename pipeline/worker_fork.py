"""Start the local runner's multi-processing workers by forking one warm process.

Beam's FnApiRunner starts each ``--direct_running_mode=multi_processing`` worker as a fresh
``python -m apache_beam.runners.worker.sdk_worker_main``, which imports Beam and then, on
its first bundle, newsbeam's stages and their libraries: seconds of start-up per worker,
paid after the pipeline is built. Here one server process (``python -m pipeline.worker_fork
FD``, handed a listening socket), started as soon as the command is read, imports all of
that once while the main process builds the pipeline, then loads what the stages would load
on their first page until a worker is wanted; each worker is a fork of it. The runner still
starts a command per worker (``pipeline/worker_client.py``, standard library only): it
hands its standard streams and environment to the server, waits for the forked worker and
exits with its status. A worker runs Beam's own harness (``sdk_worker_main.main``), so what
it computes is unchanged; when the server cannot be reached, the command runs Beam's stock
worker instead.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

# What every worker imports: Beam's harness, and newsbeam's stages (pipeline.build imports
# every module a DoFn of the batch pipeline is pickled from).
PRELOAD = ("apache_beam.runners.worker.sdk_worker_main", "pipeline.build")
CLIENT = Path(__file__).with_name("worker_client.py")
# Bytes of one request: the environment of a worker is a few kB (pipeline options).
MAX_REQUEST = 1 << 22
STOCK_COMMAND = f"{sys.executable} -m apache_beam.runners.worker.sdk_worker_main"


class ForkServer:
    """The server process, from the main process's side: started, then stopped (or gone
    with the main process, whose end closes the server's standard input)."""

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="newsbeam-workers-")
        self.socket_path = os.path.join(self._folder, "fork.sock")
        # Listening before the server starts: a worker asking at once waits for it.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(self.socket_path)
            listener.listen(16)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.worker_fork", str(listener.fileno())],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=[listener.fileno()],
            )

    def command(self) -> str:
        """The worker command the runner starts for each worker."""
        return f"{sys.executable} -S {CLIENT} {self.socket_path}"

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)
        with contextlib.suppress(OSError):
            os.rmdir(self._folder)


_SERVER: ForkServer | None = None


def start() -> ForkServer:
    """Start the server (once per process); the runner's workers are forked from it."""
    global _SERVER
    if _SERVER is None:
        _SERVER = ForkServer()
    return _SERVER


def stop() -> None:
    global _SERVER
    if _SERVER is not None:
        _SERVER.stop()
        _SERVER = None


def worker_command() -> str | None:
    """The command that starts a forked worker, or None when no server was started."""
    return None if _SERVER is None else _SERVER.command()


# ---------------------------------------------------------------- the server process


def _language_model() -> None:
    import py3langid

    py3langid.classify("")  # loads the packaged model (0.5 CPU-s) into the module


def _date_libraries() -> None:
    import dateparser.search  # noqa: F401
    import htmldate  # noqa: F401


def _known_places() -> None:
    from transforms.datelines import known_places

    known_places()


# What the stages load on their first page (a model, libraries imported on first use,
# GeoNames' city list), loaded here while no worker is wanted, most used first. Each is
# loaded the same way whoever loads it, so a worker that finds it loaded computes the same.
WARM_UP = (_language_model, _date_libraries, _known_places)


def serve(listening_fd: int) -> int:
    listener = socket.socket(fileno=listening_fd)
    for name in PRELOAD:
        importlib.import_module(name)
    from pipeline import signatures

    signatures.install()  # each worker sets up every stage's DoFns: a third of its start-up
    for step in WARM_UP:
        if select.select([listener], [], [], 0)[0]:
            break  # a worker is wanted now: what is left loads in the workers on first use
        step()
    gc.collect()
    gc.freeze()  # the workers share these objects' pages instead of copying them
    # Workers are reaped here, so that their CPU time counts in this process's children,
    # and this process's in the main process's: a run's CPU time is all of it.
    signal.signal(signal.SIGCHLD, _reap)
    parent = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([listener, parent], [], [])
        if parent in ready and not os.read(parent, 1 << 12):
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            with contextlib.suppress(ChildProcessError):
                while True:  # the main process has ended or is done with its workers
                    os.wait()
            return 0
        if listener in ready:
            connection, _ = listener.accept()
            try:
                _fork_worker(listener, parent, connection)
            finally:
                connection.close()


def _reap(signum, frame) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _fork_worker(listener: socket.socket, parent: int, connection: socket.socket) -> None:
    message, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
    while message and len(message) < MAX_REQUEST and (chunk := connection.recv(1 << 16)):
        message += chunk  # the client shuts its side when the request is whole
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return  # not a client's request: the client runs Beam's stock worker
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return
    code = 1
    try:
        listener.close()
        os.close(parent)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        request = json.loads(message)
        os.environ.clear()
        os.environ.update(request["environ"])
        os.chdir(request["cwd"])
        connection.sendall(b"started\n")
        code = _run_harness()
    except BaseException:  # noqa: BLE001 - the status goes back to the runner
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            connection.sendall(f"exit {code}\n".encode())
        finally:
            # The harness has returned (its control stream ended) and its log handler is
            # closed: nothing is left for the interpreter's teardown to finish.
            os._exit(code)


def _run_harness() -> int:
    from apache_beam.runners.worker import sdk_worker_main

    try:
        sdk_worker_main.main(sys.argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
