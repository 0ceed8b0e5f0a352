"""Claim checks: large values parked in files so that only small references cross a shuffle.

A runner holds what crosses a GroupByKey until the consuming stage has run (Beam's local
runner in its own memory, several times the encoded size; a cluster runner in its shuffle
service, which it bills by the byte). A stage that needs a value only after a join can
write it once to a file and send a ``Ref`` (path, offset, length) through the join
instead, and read it back afterwards (the claim-check pattern). A reference names the
file within the folder, which writer and reader are both given.

Files go through ``apache_beam.io.filesystems.FileSystems``, so the folder may be local or
on an object store (``gs://``, ``s3://``) that every worker reaches. Each bundle writes its
own file under a fresh name and closes it in ``finish_bundle``: a retried bundle writes a
new file, and the failed attempt's file is never referenced, since its references are
dropped with its output. The folder is removed by ``remove_folder`` once every reader has
run (and, in a newsbeam run, with the run's staging folder in any case).
"""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from typing import NamedTuple

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

SUFFIX = ".claims"
MIME = "application/octet-stream"
# Files a reader keeps open at once: a verification bundle reads records of many bundles'
# files in no particular order, and each reopen of an object-store file costs a request.
OPEN_FILES = 16


class Ref(NamedTuple):
    """Where one value was parked: ``length`` bytes at ``offset`` of the file ``name`` (in
    the folder both sides know, so that a reference stays a few dozen bytes)."""

    name: str
    offset: int
    length: int


class Writer:
    """Appends values to one new file in ``folder``; each ``put`` returns its ``Ref``."""

    def __init__(self, folder: str):
        self.name = f"{uuid.uuid4().hex[:16]}{SUFFIX}"  # 64 random bits: one per bundle
        self.path = FileSystems.join(folder, self.name)
        self._handle = FileSystems.create(self.path, MIME, CompressionTypes.UNCOMPRESSED)
        self._offset = 0

    def put(self, value: bytes) -> Ref:
        self._handle.write(value)
        ref = Ref(self.name, self._offset, len(value))
        self._offset += len(value)
        return ref

    def close(self) -> None:
        self._handle.close()


class Reader:
    """Reads values back from ``folder`` by ``Ref``, keeping the last ``open_files`` open."""

    def __init__(self, folder: str, open_files: int = OPEN_FILES):
        self._folder = folder
        self._open: OrderedDict[str, object] = OrderedDict()
        self._limit = open_files

    def get(self, ref: Ref | tuple[str, int, int]) -> bytes:
        name, offset, length = ref
        handle = self._open.pop(name, None)
        if handle is None:
            if len(self._open) >= self._limit:
                self._open.popitem(last=False)[1].close()
            handle = FileSystems.open(FileSystems.join(self._folder, name), MIME,
                                      CompressionTypes.UNCOMPRESSED)
        self._open[name] = handle
        handle.seek(offset)
        value = handle.read(length)
        if len(value) != length:
            # A short read is a lost or truncated file: fail the bundle (the runner retries
            # it), never hand on a cut value.
            raise OSError(f"claim check {name}@{offset}: read {len(value)} of {length} bytes")
        return value

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()


def remove_folder(folder: str) -> int:
    """Remove ``folder`` and the claim files in it; how many files were removed."""
    try:
        matched = FileSystems.match([FileSystems.join(folder, f"*{SUFFIX}")])[0].metadata_list
    except BeamIOError:
        matched = []
    if matched:
        FileSystems.delete([m.path for m in matched])
    # A local folder stays behind empty; an object store has no folders to remove.
    if FileSystems.get_scheme(folder) is None and os.path.isdir(folder):
        os.rmdir(folder)
    return len(matched)
