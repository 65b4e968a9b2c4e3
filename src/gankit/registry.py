"""Named entries of one kind (data sets, architectures, experiments, feature nets), filled by a decorator.

Mirrors torch-fidelity's registry: modules register entries as they are imported, and the registry
imports its built-in modules on first use, so importing the registry's package stays cheap::

    _ARCHS = Registry("model.arch", modules=["gankit.nets.dcgan"])

    @_ARCHS.register("mlp")
    def build_mlp(model, shape, num_classes): ...

    _ARCHS.get("dcgan")  # imports gankit.nets.dcgan first; an unknown name raises GankitError
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from gankit.errors import unknown

__all__ = ["Registry"]

T = TypeVar("T")
F = TypeVar("F")


class Registry(Generic[T]):
    """Entries of one ``kind`` by name; ``modules`` are imported (once) on the first lookup.

    ``names()`` are sorted unless ``ordered=True``, which lists the entries of ``modules`` in that
    list's order (then any others in registration order), whatever order the modules were imported in.
    """

    def __init__(self, kind: str, modules: Iterable[str] = (), ordered: bool = False):
        self.kind = kind
        self._modules = tuple(modules)
        self._ordered = ordered
        self._loaded = False
        self._entries: dict[str, T] = {}
        self._sources: dict[str, Any] = {}  # the decorated object behind each entry, to tell duplicates apart

    def register(self, name: str, make: Callable[[Any], T] | None = None) -> Callable[[F], F]:
        """Decorator storing the decorated object, or ``make(obj)``, under ``name``; returns ``obj`` unchanged.

        A name taken by a different object raises ValueError (two modules claiming one name is a bug).
        """

        def decorator(obj: F) -> F:
            if name in self._sources and not _same_definition(self._sources[name], obj):
                raise ValueError(f"{self.kind} {name!r} is already registered by {_describe(self._sources[name])}, "
                                 f"cannot register {_describe(obj)} under that name")
            self._entries[name] = obj if make is None else make(obj)
            self._sources[name] = obj
            return obj

        return decorator

    def _load(self) -> None:
        if not self._loaded:
            for module in self._modules:
                importlib.import_module(module)
            # set after the imports: a failed import is retried (and raises again) on the next lookup
            self._loaded = True

    def names(self) -> list[str]:
        self._load()
        if not self._ordered:
            return sorted(self._entries)
        # By the modules' listed order, not the import order: importing one of them directly (a test, a
        # user's script) before the first lookup must not move its entries to the front.
        rank = {module: position for position, module in enumerate(self._modules)}
        return sorted(self._entries, key=lambda name: rank.get(getattr(self._sources[name], "__module__", None), len(rank)))

    def get(self, name: str) -> T:
        """The entry called ``name`` (GankitError ``unknown KIND 'name' (did you mean ...)`` otherwise)."""
        self._load()
        if name not in self._entries:
            raise unknown(self.kind, name, self._entries)
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def copy(self) -> Registry[T]:
        """An independent registry with the same entries (tests register into one without leaking names)."""
        self._load()
        other: Registry[T] = Registry(self.kind, self._modules, self._ordered)
        other._loaded = True
        other._entries = dict(self._entries)
        other._sources = dict(self._sources)
        return other


def _same_definition(old: Any, new: Any) -> bool:
    # A module reload (or a module imported twice) re-runs its decorators on new function objects
    # with the same qualified name: that replaces the entry rather than clashing with it.
    return old is new or (_qualified_name(old) is not None and _qualified_name(old) == _qualified_name(new))


def _qualified_name(obj: Any) -> str | None:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else None


def _describe(obj: Any) -> str:
    return _qualified_name(obj) or repr(obj)
