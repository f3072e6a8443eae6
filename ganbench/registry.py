"""The one registry mechanism shared by methods, datasets, nets and metrics.

A registry maps a short name (as written in suite files) to a factory. Modules register
themselves with a decorator; :func:`load_builtins` imports every module of the data, nets,
methods and metrics packages once, so that the registries are complete before a suite is
validated and a new method needs nothing but its own module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, TypeVar

from ganbench.errors import GanbenchError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object table with a decorator for registration."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return decorate

    def get(self, name: str) -> T:
        load_builtins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise GanbenchError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        load_builtins()
        return name in self._items

    def names(self) -> list[str]:
        load_builtins()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        load_builtins()
        return sorted(self._items.items())


METHODS: Registry = Registry("method")
DATASETS: Registry = Registry("dataset")
NETS: Registry = Registry("net")
METRICS: Registry = Registry("metric")

#: packages whose every module is imported so that its registrations take effect
_BUILTIN_PACKAGES = ("ganbench.data", "ganbench.nets", "ganbench.methods", "ganbench.metrics")
_loaded = False


def load_builtins() -> None:
    """Import every built-in module so that its registrations take effect (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in _BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")
