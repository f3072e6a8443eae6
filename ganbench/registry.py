"""The one registry mechanism shared by methods, datasets, nets and metrics.

A registry maps a short name (as written in suite files) to a factory. Modules register
themselves with a decorator; :func:`load_builtins` imports every module of the data, nets,
methods and metrics packages once, so that the registries are complete before a suite is
validated and a new method needs nothing but its own module.

Plugins (docs/plugins.md) come in two ways, both landing in the same registries:

- **entry points** of an installed distribution, in the groups ``ganbench.methods``,
  ``ganbench.datasets``, ``ganbench.nets`` and ``ganbench.metrics``, loaded by
  :func:`load_builtins` after the built-ins. An entry point may name a module (importing it
  runs its ``@METHODS.register(...)`` decorators) or an object (a class), which is registered
  under the entry point's name unless its module already registered it. A plugin that fails to
  load is a :class:`GanbenchError` of one line naming the entry point; it is raised again by
  every later lookup, never skipped silently. Ray workers run the same code on the same
  installed environment, so they load the same plugins.
- **files or modules named in a suite** (``imports:``), loaded by :func:`import_plugins`
  before the suite is validated and again in each worker (the list travels with every trial's
  spec, :attr:`ganbench.spec.TrialSpec.imports`).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import pkgutil
import sys
import types
from pathlib import Path
from typing import Callable, Generic, TypeVar

from ganbench.errors import GanbenchError

T = TypeVar("T")


def did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'wgan_gp'?)`` for the closest known names (difflib), or ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=2, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


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

    def unknown(self, name: str) -> GanbenchError:
        """The one-line error for a name that is not registered: the closest names, all names."""
        known = sorted(self._items)
        return GanbenchError(f"unknown {self.kind} {name!r}{did_you_mean(name, known)} "
                             f"(known: {', '.join(known)})")

    def get(self, name: str) -> T:
        load_builtins()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def __contains__(self, name: object) -> bool:
        load_builtins()
        try:
            return name in self._items
        except TypeError:  # an unhashable name from a malformed suite
            return False

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
#: entry-point group -> the registry its objects go to
ENTRY_POINT_GROUPS = {"ganbench.methods": METHODS, "ganbench.datasets": DATASETS,
                      "ganbench.nets": NETS, "ganbench.metrics": METRICS}
_loaded = False
_plugin_error: GanbenchError | None = None


def load_builtins() -> None:
    """Import every built-in module, then the installed plugins' entry points (idempotent).

    A broken plugin raises its one-line :class:`GanbenchError` here, now and at every later
    call, so that no command runs with a registry that silently lacks it.
    """
    global _loaded, _plugin_error
    if _loaded:
        if _plugin_error is not None:
            raise _plugin_error
        return
    _loaded = True
    for package_name in _BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")
    try:
        load_entry_points()
    except GanbenchError as err:
        _plugin_error = err
        raise


def _entry_points():
    """Every installed entry point (one scan of the installed distributions)."""
    from importlib.metadata import entry_points

    return entry_points()


def _describe_entry_point(group: str, ep) -> str:
    dist = getattr(ep, "dist", None)
    where = f" (from {dist.name} {dist.version})" if dist is not None and getattr(dist, "name", None) else ""
    return f"plugin entry point {group}: {ep.name} = {ep.value}{where}"


def load_entry_points() -> list[str]:
    """Load every entry point of :data:`ENTRY_POINT_GROUPS`; returns ``group:name`` of each."""
    loaded = []
    installed = _entry_points()
    for group, registry in ENTRY_POINT_GROUPS.items():
        for ep in sorted(installed.select(group=group), key=lambda e: e.name):
            what = _describe_entry_point(group, ep)
            try:
                obj = ep.load()
            except Exception as exc:  # any failure of third-party code: one line naming it
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise GanbenchError(f"{what}: cannot be loaded ({type(exc).__name__}: {first}); "
                                    f"fix or uninstall the plugin") from None
            if not isinstance(obj, types.ModuleType) and registry._items.get(ep.name) is not obj:
                try:
                    registry.register(ep.name)(obj)
                except ValueError as exc:
                    raise GanbenchError(f"{what}: {exc} (a built-in or another plugin has this name)") from None
            loaded.append(f"{group}:{ep.name}")
    return loaded


# ---------------------------------------------------------------------------------------
# Suite imports: local plugin modules named in a suite file

def _file_module_name(path: Path) -> str:
    """The ``sys.modules`` name of a plugin file: its stem and a hash of its absolute path, so
    the driver and every worker give the same file the same name (and import it once)."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"ganbench_plugin_{stem}_{digest}"


def _import_file(path: Path) -> types.ModuleType:
    name = _file_module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before executing it: dataclasses and pickling look it up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def resolve_import(entry: str, base_dir: Path) -> str:
    """A suite's ``imports`` entry as it travels: an absolute path for a ``.py`` file (relative
    ones are taken from the suite file's folder), else the module name unchanged."""
    if entry.endswith(".py") or "/" in entry or "\\" in entry:
        path = Path(entry).expanduser()
        return str((path if path.is_absolute() else base_dir / path).resolve())
    return entry


def import_plugins(entries: list[str] | tuple[str, ...], base_dir: str | Path | None = None) -> None:
    """Import resolved ``imports`` entries (``.py`` paths, or module names searched in
    ``base_dir`` first, then on ``sys.path``); registrations take effect once per process.

    Raises ``(index, message)`` as a :class:`PluginImportError` for the first failure.
    """
    load_builtins()  # built-ins first: a plugin may build on them, and may not take their names
    for i, entry in enumerate(entries):
        try:
            if entry.endswith(".py") or Path(entry).is_absolute():
                path = Path(entry)
                if not path.is_file():
                    raise PluginImportError(i, f"no such file {entry}")
                _import_file(path)
            elif not entry.replace(".", "").replace("_", "").isalnum() or entry.startswith("."):
                raise PluginImportError(i, f"{entry!r} is neither a .py file nor a module name")
            else:
                added = base_dir is not None and str(base_dir) not in sys.path
                if added:
                    sys.path.insert(0, str(base_dir))
                try:
                    importlib.import_module(entry)
                finally:
                    if added:
                        sys.path.remove(str(base_dir))
        except PluginImportError:
            raise
        except ModuleNotFoundError as exc:
            raise PluginImportError(i, f"no module named {exc.name!r}"
                                    + (f" (looked in {base_dir} and on sys.path)" if base_dir else "")) from None
        except ValueError as exc:  # Registry.register: a name taken twice
            raise PluginImportError(i, f"{entry}: {exc}") from None
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise PluginImportError(i, f"{entry}: {type(exc).__name__}{_where(exc)}: {first}") from None


def _where(exc: BaseException) -> str:
    """`` (line 12)`` of a syntax error, or `` (at file.py line 12)``: the innermost frame of the
    traceback outside Python's import machinery (the plugin's own line, as a rule)."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {Path(last.filename).name} line {last.lineno})"


class PluginImportError(GanbenchError):
    """An ``imports:`` entry that could not be imported; ``index`` is its place in the list."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index
