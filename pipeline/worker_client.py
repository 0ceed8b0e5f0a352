"""One local runner worker, forked by newsbeam's worker server (``pipeline/worker_fork.py``).

Run as ``python -S worker_client.py SOCKET`` (standard library only, so it starts in
milliseconds): sends this process's standard streams, environment and folder to the server,
which forks a warm worker on them; waits for that worker and exits with its status. When
the server cannot be reached or does not fork, Beam's stock worker runs here instead.
"""

import json
import os
import socket
import sys

STOCK = ["-m", "apache_beam.runners.worker.sdk_worker_main"]


def stock_worker() -> None:
    os.execv(sys.executable, [sys.executable, *STOCK])


def main(socket_path: str) -> int:
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(socket_path)
        request = json.dumps({"environ": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(connection, [request], [0, 1, 2])
        connection.shutdown(socket.SHUT_WR)  # the request ends here
    except OSError:
        stock_worker()
    reply = b""
    started = False
    while True:
        try:
            chunk = connection.recv(256)
        except OSError:
            chunk = b""
        if not chunk:
            break
        reply += chunk
        started = started or reply.startswith(b"started\n")
        if b"exit " in reply and reply.endswith(b"\n"):
            return int(reply.rsplit(b"exit ", 1)[1])
    if not started:
        stock_worker()  # the server ended before forking
    return 1  # the forked worker died without a status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
