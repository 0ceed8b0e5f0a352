"""Beam's function signatures, computed once per function instead of at every look.

Beam looks at the signature of every method of every DoFn, several times per ParDo, when it
builds a pipeline, translates it for the runner and sets up each stage on a worker
(``userstate.get_dofn_specs``: ``dir(dofn)``, then ``inspect.signature`` of each method):
about 13,000 ``inspect.signature`` calls for newsbeam's pipeline in the main process and
4,400 per worker, a third of their start-up CPU. A signature depends only on the function
(its code, defaults and annotations, fixed when it is defined), so ``install`` makes Beam's
``get_signature`` keep the one it computed per plain function and per method's function.
Anything else (partials, callable objects, builtins) is computed each time as before.
"""

from __future__ import annotations

import types

# Beam's modules that call get_signature by a name of their own (``from ... import``).
USERS = ("apache_beam.transforms.core", "apache_beam.transforms.ptransform",
         "apache_beam.transforms.util")

_installed = False


def cached(get_signature):
    """``get_signature`` (Beam's) remembering its result per function and per method's
    function (a method's signature lacks its first parameter: kept apart)."""
    # A plain dict, not weak keys: a weak dict's clean-up callback runs wherever the
    # collector happens to run, and an asynchronous exception landing in it (the extraction
    # time limit, transforms/time_limit.py) would be lost. The functions kept alive are
    # those of the pipelines built in this process: a few hundred per pipeline.
    known: dict = {}

    def signature(func):
        if isinstance(func, types.MethodType):
            key, kind = func.__func__, "method"
        elif isinstance(func, types.FunctionType):
            key, kind = func, "function"
        else:
            return get_signature(func)
        if not isinstance(key, types.FunctionType):
            return get_signature(func)  # a method of a builtin or a callable object
        kinds = known.setdefault(key, {})
        if kind not in kinds:
            kinds[kind] = get_signature(func)
        return kinds[kind]

    signature.__wrapped__ = get_signature
    signature.__doc__ = get_signature.__doc__
    return signature


def install() -> None:
    """Replace Beam's ``get_signature`` (and its importers' copies) by the remembering one."""
    global _installed
    if _installed:
        return
    import importlib

    from apache_beam.typehints import decorators

    remembering = cached(decorators.get_signature)
    decorators.get_signature = remembering
    for name in USERS:
        module = importlib.import_module(name)
        if getattr(module, "get_signature", None) is remembering.__wrapped__:
            module.get_signature = remembering
    _installed = True
