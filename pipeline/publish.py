"""The output folder: one run at a time (a lock), and a batch run's files published only on success.

A batch run writes everything under ``DIR/.staging-<run>/`` and moves its files
to their final names (``DIR/<kind>/part-*.avro``, then ``DIR/summary.json``
last) only when the run has succeeded and its books balance. A failed, killed
or full-disk run leaves no final-named file: its staging folder is removed when
it fails, or by the next run when it was killed. ``summary.json`` is written
last, so a folder with ``summary.json`` is complete.

A run holds ``DIR/.newsbeam.lock`` (its pid, host and start time) while it runs;
a second run into the same folder is refused with a message naming the first.
A lock whose process is gone (same host) is stale and taken over.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import uuid
from datetime import UTC, datetime

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from pipeline.sinks import OUTPUTS
from pipeline.sources import is_local

LOG = logging.getLogger("newsbeam")
LOCK_FILE = ".newsbeam.lock"
STAGING_PREFIX = ".staging-"


class OutputInUse(Exception):
    """Another newsbeam run holds the output folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class OutputLock:
    """``DIR/.newsbeam.lock``, created exclusively; released (removed) by its holder."""

    def __init__(self, output: str):
        self.path = FileSystems.join(output, LOCK_FILE)
        self.token = uuid.uuid4().hex
        self._held = False

    def acquire(self) -> None:
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.now(UTC).isoformat(timespec="seconds"),
                  "token": self.token}
        text = json.dumps(holder).encode("utf-8")
        for _ in range(2):  # a second try after removing a stale lock
            if self._create(text):
                self._held = True
                return
            other = self._holder()
            if other is not None and not self._stale(other):
                raise OutputInUse(
                    f"the output folder is in use by another newsbeam run (pid {other.get('pid')}"
                    f" on {other.get('host')}, since {other.get('started')}); wait for it, or "
                    f"choose another --output. If no such run is going on, remove {self.path}"
                )
            LOG.warning("removing a stale lock %s (%s)", self.path, other)
            self._remove()
        raise OutputInUse(f"could not take the lock {self.path}")

    def _create(self, text: bytes) -> bool:
        if is_local(self.path):
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as handle:
                handle.write(text)
            return True
        # Object stores have no exclusive create through Beam's FileSystems: check, then
        # write (two runs starting in the same instant can both pass).
        if FileSystems.exists(self.path):
            return False
        with FileSystems.create(self.path) as handle:
            handle.write(text)
        return True

    def _holder(self) -> dict | None:
        try:
            with FileSystems.open(self.path) as handle:
                return json.loads(handle.read().decode("utf-8"))
        except (OSError, BeamIOError, ValueError):
            return None  # gone meanwhile, or half-written by a run killed while creating it

    @staticmethod
    def _stale(holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return False  # cannot tell from here: another machine's run is taken as alive
        pid = holder.get("pid")
        return not isinstance(pid, int) or not _pid_alive(pid)

    def _remove(self) -> None:
        try:
            FileSystems.delete([self.path])
        except (OSError, BeamIOError):
            pass

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        holder = self._holder()
        if holder is not None and holder.get("token") == self.token:
            self._remove()


def take_output_lock(output: str) -> OutputLock:
    """The output folder's lock, held; raises OutputInUse when another run holds it."""
    lock = OutputLock(output)
    lock.acquire()
    return lock


# ---------------------------------------------------------------- staging


def _children(folder: str) -> list[str]:
    try:
        return [m.path for m in FileSystems.match([FileSystems.join(folder, "**")])[0].metadata_list]
    except BeamIOError:
        return []


def remove_staging(output: str) -> int:
    """Remove staging folders of earlier runs in ``output`` (the lock is held: none is live)."""
    removed = 0
    if is_local(output):
        if not os.path.isdir(output):
            return 0
        for name in os.listdir(output):
            if name.startswith(STAGING_PREFIX):
                shutil.rmtree(os.path.join(output, name), ignore_errors=True)
                removed += 1
        return removed
    paths = [p for p in _children(output) if f"/{STAGING_PREFIX}" in p]
    if paths:
        FileSystems.delete(paths)
    return len(paths)


def new_staging(output: str) -> str:
    """A fresh staging folder for this run, after removing any an earlier run left."""
    stale = remove_staging(output)
    if stale:
        LOG.info("removed %d staging folder(s) of an earlier, unfinished run", stale)
    staging = FileSystems.join(output, f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}")
    if is_local(output):
        os.makedirs(staging)
    return staging


def publish(staging: str, output: str) -> int:
    """Move the staged Avro files to their final names under ``output``; how many."""
    sources, targets = [], []
    for kind in OUTPUTS:
        try:
            matched = FileSystems.match([FileSystems.join(staging, kind, "*.avro")])[0]
        except BeamIOError:
            continue
        if is_local(output):
            os.makedirs(os.path.join(output, kind), exist_ok=True)
        for meta in sorted(matched.metadata_list, key=lambda m: m.path):
            sources.append(meta.path)
            targets.append(FileSystems.join(output, kind, meta.path.rsplit("/", 1)[-1]))
    if sources:
        FileSystems.rename(sources, targets)
    discard_staging(staging)
    return len(targets)


def discard_staging(staging: str) -> None:
    """Remove a staging folder and what is in it (a failed run's output is never published)."""
    if is_local(staging):
        shutil.rmtree(staging, ignore_errors=True)
        return
    paths = _children(staging)
    if paths:
        FileSystems.delete(paths)
