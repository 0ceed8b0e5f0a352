"""The Avro schemas of newsbeam's output, shipped as package data so every worker has them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import fastavro

ARTICLE = "article"
DEAD_LETTER = "dead_letter"
# Bump when a schema changes; see schemas/README.md for the compatibility rule.
SCHEMA_VERSION = 2


@cache
def load_json(name: str) -> dict:
    """The schema ``name`` (``article`` or ``dead_letter``) as a JSON dict."""
    return json.loads(resources.files(__package__).joinpath(f"{name}.avsc").read_text("utf-8"))


def parsed(name: str) -> dict:
    """The schema parsed by fastavro (for writing and validating)."""
    return fastavro.parse_schema(load_json(name))
