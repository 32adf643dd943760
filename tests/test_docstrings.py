"""Every public name has a docstring with a runnable example (the examples themselves run as doctests)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

#: The public modules: their ``__all__`` is the public API.
MODULES = [
    "daap",
    "daap.candles",
    "daap.cli",
    "daap.contract",
    "daap.dashboard",
    "daap.download",
    "daap.engines",
    "daap.engines.pandas",
    "daap.engines.snowpark",
    "daap.engines.spark",
    "daap.errors",
    "daap.indicators",
    "daap.ingest",
    "daap.intervals",
    "daap.klines",
    "daap.lake",
    "daap.pipeline",
    "daap.quality",
    "daap.reconcile",
    "daap.s3",
    "daap.schemas",
    "daap.sources.aggtrades",
    "daap.sources.binance",
    "daap.sources.synthetic",
    "daap.storage",
    "daap.trades",
    "daap.warehouse",
]


def _function(member: Any) -> Any:
    if isinstance(member, property):
        return member.fget
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    return member


def public_names() -> Iterator[tuple[str, Any]]:
    """(qualified name, object) of every public function and class, and of the public methods they define."""
    seen: set[int] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue
            if not getattr(obj, "__module__", "").startswith("daap"):
                continue
            seen.add(id(obj))
            yield f"{obj.__module__}.{obj.__qualname__}", obj
            if inspect.isclass(obj):
                for meth, member in vars(obj).items():
                    fn = _function(member)
                    if meth.startswith("_") or not inspect.isfunction(fn) or id(fn) in seen:
                        continue
                    seen.add(id(fn))
                    yield f"{obj.__module__}.{obj.__qualname__}.{meth}", fn


NAMES = dict(public_names())


@pytest.mark.parametrize("name", sorted(NAMES))
def test_public_name_has_a_runnable_example(name: str) -> None:
    doc = inspect.getdoc(NAMES[name]) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert ">>> " in doc, f"{name}: its docstring has no example (an Examples: section with >>> lines)"
