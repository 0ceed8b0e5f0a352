"""The ``newsbeam`` command: starts the local worker server first when the command asks for
multi-processing workers, then runs the command line (``pipeline/cli.py``).

The server (``pipeline/worker_fork.py``) imports Beam and the stages for the workers; started
here, before this process's own imports, the two go on side by side. Only the command's
words are looked at here: the command line decides for certain (``cli.run`` stops a server
that the run does not use, and starts one this missed).
"""

import sys

MULTI_PROCESSING = "multi_processing"
STREAMING_FLAGS = ("--streaming", "--watch", "--pubsub_subscription")


def asks_for_worker_processes(argv: list[str]) -> bool:
    """Whether ``argv`` is a batch ``run`` with ``--direct_running_mode=multi_processing``."""
    if not argv or argv[0] != "run":
        return False
    if any(arg.split("=", 1)[0] in STREAMING_FLAGS for arg in argv):
        return False
    for at, arg in enumerate(argv):
        if arg == f"--direct_running_mode={MULTI_PROCESSING}":
            return True
        if arg == "--direct_running_mode" and argv[at + 1:at + 2] == [MULTI_PROCESSING]:
            return True
    return False


def main() -> int:
    if asks_for_worker_processes(sys.argv[1:]):
        from pipeline import worker_fork  # the standard library only

        worker_fork.start()
    from pipeline.cli import main as run_command

    return run_command()


if __name__ == "__main__":
    sys.exit(main())
