"""Source kinds: one module per vendor, discovered here by the `kind` of their `Source` class."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from services.gateway.sources.base import Source


@cache
def source_kinds() -> dict[str, type[Source]]:
    """Every source kind by name, found by importing each module of this package."""
    kinds: dict[str, type[Source]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Source) and value.kind:
                if value.__module__ == module.__name__:
                    kinds[value.kind] = value
    return kinds
