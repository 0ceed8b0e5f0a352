"""Beam's get_signature remembered per function (pipeline/signatures.py): the same answers."""

from __future__ import annotations

import functools

import apache_beam as beam
import pytest
from apache_beam.transforms import core, userstate
from apache_beam.typehints import decorators

from pipeline import signatures

COUNT = userstate.CombiningValueStateSpec("count", sum)


def plain(a, b=2, *rest, c: int = 3, **more):
    return a


class Counting(beam.DoFn):
    def process(self, element, count=beam.DoFn.StateParam(COUNT)):
        yield element


class Other(beam.DoFn):
    def process(self, element, timestamp=beam.DoFn.TimestampParam):
        yield element


def callables():
    first, second = Counting(), Counting()
    return [plain, first.process, second.process, Counting.process, Other().process,
            functools.partial(plain, 1), str.upper, "x".upper, Counting, len, lambda x, y=1: x]


def inspect_signature(func):
    """Beam's own get_signature, whether or not install() has run."""
    beams = getattr(decorators.get_signature, "__wrapped__", decorators.get_signature)
    return beams(func)


@pytest.mark.parametrize("func", callables(), ids=repr)
def test_the_remembered_signature_is_beams(func):
    remembering = signatures.cached(inspect_signature)
    expected = inspect_signature(func)
    assert remembering(func) == expected
    assert remembering(func) == expected  # and again, from what it kept


def test_a_method_and_its_function_are_kept_apart():
    remembering = signatures.cached(inspect_signature)
    method = Counting().process
    assert list(remembering(method).parameters) == ["element", "count"]
    assert list(remembering(Counting.process).parameters) == ["self", "element", "count"]
    assert list(remembering(method).parameters) == ["element", "count"]


def test_installed_beam_finds_the_same_state_and_timers():
    signatures.install()
    signatures.install()  # once is enough; twice changes nothing
    assert core.get_signature is decorators.get_signature
    assert decorators.get_signature.__wrapped__ is not decorators.get_signature
    states, timers = userstate.get_dofn_specs(Counting())
    assert states == {COUNT} and not timers
    assert userstate.is_stateful_dofn(Counting())
    assert not userstate.is_stateful_dofn(Other())
