"""One door for every role: the plugin manager and the registry it fills.

Treelight's built-in tasks, strategies, judges and backends register through
the same `pluggy` hooks a third-party package uses (found through the
entry-point group `treelight`). Every process that rebuilds a run — the CLI,
`treelight resume`, a worker, the app — builds the same registry, because a
run stores its roles by name only.

This module does not construct roles; `make_task` and friends in each role's
package do, from `registry()`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from treelight.engine import hookspecs
from treelight.engine.errors import BadArguments

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "treelight"
# Which installed plugin packages to load, comma-separated ("" loads none); unset
# loads all of them. For finding a broken plugin, and for tests.
LOAD_PLUGINS_VARIABLE = "TREELIGHT_LOAD_PLUGINS"
BUILTIN = "treelight"  # the provider named for the built-in roles
BUILTIN_MODULES = (
    "treelight.engine.tasks",
    "treelight.engine.strategies",
    "treelight.engine.judges",
    "treelight.engine.generators",
)
ROLES = ("task", "strategy", "judge", "generator")
HOOKS = {
    "task": "register_tasks",
    "strategy": "register_strategies",
    "judge": "register_judges",
    "generator": "register_generators",
}


class MissingPlugin(BadArguments):
    """A run names a role that no installed package provides."""


@dataclass
class Registry:
    """Every installed role by name, and the package that provides each."""

    roles: dict[str, dict[str, type[Any]]] = field(default_factory=lambda: {r: {} for r in ROLES})
    providers: dict[tuple[str, str], str] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # package -> why it did not load

    def add(self, role: str, cls: type[Any], provider: str) -> None:
        name = str(cls.backend if role == "generator" else cls.name)
        earlier = self.providers.get((role, name))
        if earlier is not None and self.roles[role][name] is not cls:
            raise BadArguments(
                f"Two packages register a {role} named {name!r}: {earlier} and {provider}; "
                "uninstall one of them."
            )
        self.roles[role][name] = cls
        self.providers[(role, name)] = provider

    def get(self, role: str, name: str, needed_from: str | None = None) -> type[Any]:
        """The class registered as `name`; a clear error naming what to install if none is.

        `needed_from` is the package a stored run says provided it."""
        found = self.roles[role].get(name)
        if found is not None:
            return found
        known = ", ".join(sorted(self.roles[role])) or "none"
        if needed_from in self.broken:
            raise MissingPlugin(
                f"This run's {role} {name!r} comes from the package {needed_from}, which is "
                f"installed but does not load ({self.broken[needed_from]}): fix or reinstall "
                "it, then resume the run."
            )
        if needed_from and needed_from != BUILTIN and needed_from in excluded_plugins():
            raise MissingPlugin(
                f"This run's {role} {name!r} comes from the package {needed_from}, which "
                f"{LOAD_PLUGINS_VARIABLE} leaves out: add it there (or unset it), then "
                "resume the run."
            )
        if needed_from and needed_from != BUILTIN:
            raise MissingPlugin(
                f"This run's {role} {name!r} comes from the package {needed_from}, which is "
                f"not installed here: `pip install {needed_from}`, then resume the run. "
                f"Installed {role}s: {known}."
            )
        raise MissingPlugin(f"Unknown {role} {name!r}; choose one of: {known}.")

    def provider(self, role: str, name: str) -> str:
        return self.providers.get((role, name), BUILTIN)


@dataclass
class Loaded:
    manager: pluggy.PluginManager
    providers: dict[int, str]  # id(plugin module) -> the package that provides it
    broken: dict[str, str]  # package -> why its plugin could not be loaded


def chosen_plugins() -> set[str] | None:
    """The packages TREELIGHT_LOAD_PLUGINS names (None: it is unset, load them all)."""
    wanted = os.environ.get(LOAD_PLUGINS_VARIABLE)
    return None if wanted is None else {w.strip() for w in wanted.split(",") if w.strip()}


def excluded_plugins() -> set[str]:
    """Installed plugin packages that TREELIGHT_LOAD_PLUGINS leaves out."""
    chosen = chosen_plugins()
    if chosen is None:
        return set()
    entries = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {e.dist.name for e in entries if e.dist is not None and e.dist.name not in chosen}


def load_plugins() -> Loaded:
    """The built-ins, then every installed package's `treelight` entry points.

    A plugin that fails to import is reported (and named when a run needs one of
    its roles), not fatal: one broken package must not take the tool down."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    providers: dict[int, str] = {}
    for module_name in BUILTIN_MODULES:
        module = importlib.import_module(module_name)
        manager.register(module, name=module_name)
        providers[id(module)] = BUILTIN
    broken: dict[str, str] = {}
    chosen = chosen_plugins()
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        package = entry.dist.name if entry.dist is not None else entry.value
        if chosen is not None and package not in chosen:
            continue
        if manager.get_plugin(entry.name) is not None:
            continue  # the same distribution seen twice on the path
        try:
            plugin = entry.load()
            manager.register(plugin, name=entry.name)
        except Exception as error:  # a plugin's own bug must not stop Treelight
            broken[package] = f"{type(error).__name__}: {error}"
            log.warning(
                "the Treelight plugin %s (%s) cannot be loaded: %s", entry.name, package, error
            )
            continue
        providers[id(plugin)] = package
    return Loaded(manager, providers, broken)


def build_registry(loaded: Loaded) -> Registry:
    registry = Registry(broken=dict(loaded.broken))
    for role, hook_name in HOOKS.items():
        hook = getattr(loaded.manager.hook, hook_name)
        # One call per plugin, so each class is tagged with the package that gave it.
        for impl in hook.get_hookimpls():
            provider = loaded.providers.get(id(impl.plugin), BUILTIN)

            def register(cls: type[Any], role: str = role, provider: str = provider) -> None:
                registry.add(role, cls, provider)

            try:
                impl.function(register=register)
            except Exception as error:  # a plugin's own bug, or a name another package has
                if provider == BUILTIN:
                    raise
                registry.broken[provider] = f"{type(error).__name__}: {error}"
                log.warning("the Treelight plugin %s failed to register: %s", provider, error)
    return registry


_lock = threading.Lock()
_registry: Registry | None = None


def registry() -> Registry:
    """The registry of this process (built once, on first use)."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = build_registry(load_plugins())
        return _registry


def reload() -> Registry:
    """Forget the registry and find the plugins again (after an install, in tests)."""
    global _registry
    with _lock:
        _registry = None
    importlib.invalidate_caches()
    return registry()


RegisterFunction = Callable[[type[Any]], None]
