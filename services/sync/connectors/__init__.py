"""Connectors: one module per target system, discovered here by the `kind` of their class."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from services.sync.connectors.base import Connector


@cache
def connector_kinds() -> dict[str, type[Connector]]:
    """Every connector kind by name, found by importing each module of this package."""
    kinds: dict[str, type[Connector]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Connector)
                and value.kind
                and value.__module__ == module.__name__
            ):
                kinds[value.kind] = value
    return kinds
