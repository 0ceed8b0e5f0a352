"""Dead letters: how any stage turns a page it cannot process into a record with a reason.

A stage's pure function raises ``StageError(reason)`` for a page it rejects
(a known, named outcome such as ``no_article``). Any other exception from the
pure function is a bug or a pathological page, also deterministic for that
page, so it becomes a dead letter with reason ``<stage>_failed`` rather than
failing the bundle forever. Transient I/O errors are not caught here: they
happen in sources and sinks, where they raise so the runner retries.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from transforms.records import DeadLetter, StageError

MAIN = "main"
DEAD_LETTERS = "dead_letters"
METRICS_NAMESPACE = "newsbeam"
EXCERPT_CHARS = 500
ERROR_CHARS = 2000


def excerpt_of(element: Any) -> str:
    """The first characters of whatever the element carries, readable in a report."""
    for name in ("content", "text", "body", "document"):
        value = getattr(element, name, None)
        if value:
            if isinstance(value, bytes):
                return value[:EXCERPT_CHARS].decode("utf-8", errors="replace")
            return str(value)[:EXCERPT_CHARS]
    return ""


def dead_letter(element: Any, stage: str, reason: str, error: str) -> DeadLetter:
    """A dead letter for ``element`` (a Page, Document or Article) failing ``stage``."""
    return DeadLetter(
        source=str(getattr(element, "source", "") or ""),
        stage=stage,
        reason=reason,
        error=error[:ERROR_CHARS],
        excerpt=excerpt_of(element),
        size_bytes=int(getattr(element, "size_bytes", 0) or 0),
    )


def count(name: str, value: int = 1) -> None:
    Metrics.counter(METRICS_NAMESPACE, name).inc(value)


def run_guarded(
    element: Any, stage: str, fn: Callable[[Any], Any]
) -> tuple[Any, DeadLetter | None]:
    """Call ``fn(element)``; return (result, None) or (None, dead letter)."""
    try:
        return fn(element), None
    except StageError as exc:
        return None, dead_letter(element, exc.stage or stage, exc.reason, str(exc))
    except RecursionError as exc:
        return None, dead_letter(element, stage, "too_deep", repr(exc))
    except MemoryError as exc:
        return None, dead_letter(element, stage, "out_of_memory", repr(exc))
    except Exception as exc:  # noqa: BLE001 - becomes a dead letter with its traceback
        tb = "".join(traceback.format_exception(exc, limit=-3))
        return None, dead_letter(element, stage, f"{stage}_failed", tb)


class _Guarded(beam.DoFn):
    def __init__(self, stage: str, fn: Callable[[Any], Any]):
        self._stage = stage
        self._fn = fn

    def process(self, element: Any) -> Iterable[Any]:
        result, failure = run_guarded(element, self._stage, self._fn)
        if failure is not None:
            count(f"dropped_{failure.reason}")
            yield TaggedOutput(DEAD_LETTERS, failure)
        elif result is not None:
            yield result


class GuardedMap(beam.PTransform):
    """Map each element through ``fn``; pages it rejects go to the ``dead_letters`` output.

    ``fn`` returns the new element. The result is a tuple-like with ``[MAIN]``
    and ``[DEAD_LETTERS]``.
    """

    def __init__(self, stage: str, fn: Callable[[Any], Any], label: str | None = None):
        super().__init__(label)
        self._stage = stage
        self._fn = fn

    def expand(self, pcoll):
        return pcoll | beam.ParDo(_Guarded(self._stage, self._fn)).with_outputs(
            DEAD_LETTERS, main=MAIN
        )
