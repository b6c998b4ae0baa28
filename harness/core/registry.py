"""One generic registry per extension point (metrics, providers, trainers, ...).

Third parties add their own with the decorator in their own module, or through the
``harness.plugins`` entry-point group, whose modules are imported on first lookup.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from harness.core.errors import UnknownName

T = TypeVar("T")
_plugins_loaded = False


def load_plugins() -> None:
    """Import every module named in the ``harness.plugins`` entry-point group once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="harness.plugins"):
        ep.load()


class Registry(Generic[T]):
    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()):
        self.kind = kind
        self._items: dict[str, T] = {}
        # Built-in entries live in their own small modules, imported on first lookup so that
        # naming a provider does not import every other one (and its heavy SDK).
        self._builtin_modules = builtin_modules
        self._lazy: dict[str, str] = {}

    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and not replace and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    @contextmanager
    def temporarily(self, name: str, obj: T) -> Iterator[T]:
        """``name`` registered as ``obj`` inside the ``with`` block only (a test's own entry); what was
        registered under that name before, if anything, is back afterwards."""
        before = self._items.get(name)
        self._items[name] = obj
        try:
            yield obj
        finally:
            if before is None:
                self._items.pop(name, None)
            else:
                self._items[name] = before

    def lazy(self, name: str, module: str) -> None:
        """Declare that importing ``module`` registers ``name`` (keeps start-up light)."""
        self._lazy[name] = module

    def _import_all(self) -> None:
        import importlib

        for mod in (*self._builtin_modules, *self._lazy.values()):
            importlib.import_module(mod)
        load_plugins()

    def get(self, name: str) -> T:
        if name not in self._items and name in self._lazy:
            import importlib

            importlib.import_module(self._lazy[name])
        if name not in self._items:
            self._import_all()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownName(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(names)}"

    def names(self) -> list[str]:
        self._import_all()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except UnknownName:
            return False
        return True

    def items(self) -> Iterator[tuple[str, T]]:
        self._import_all()
        yield from sorted(self._items.items())
