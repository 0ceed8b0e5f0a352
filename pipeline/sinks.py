"""Sinks: Avro files under DIR/articles, DIR/copies and DIR/dead_letters."""

from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.io.avroio import WriteToAvro

import schemas

ARTICLES = "articles"
COPIES = "copies"
DEAD_LETTERS = "dead_letters"
OUTPUTS = {ARTICLES: schemas.ARTICLE, COPIES: schemas.ARTICLE, DEAD_LETTERS: schemas.DEAD_LETTER}


class WriteAvroFolder(beam.PTransform):
    """Write Avro records of one kind to ``DIR/<kind>/part-SSSSS-of-NNNNN.avro``.

    Beam writes each shard to a temporary folder and renames it into place only
    when the whole write has succeeded, so a failed run leaves no partial file.
    """

    def __init__(self, output_dir: str, kind: str, num_shards: int = 0):
        super().__init__()
        self._prefix = os.path.join(output_dir, kind, "part")
        self._schema = schemas.parsed(OUTPUTS[kind])
        self._shards = num_shards

    def expand(self, records):
        return records | WriteToAvro(
            self._prefix,
            schema=self._schema,
            file_name_suffix=".avro",
            num_shards=self._shards,
            codec="deflate",
        )
