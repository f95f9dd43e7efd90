"""The rule set in force, swapped atomically when the rules folder changes.

A folder that fails to load never replaces a working rule set: the last good one keeps serving,
and the problems are logged and kept for the admin status endpoint. No restart is needed for a
rule change. Requests read `RuleBook.current` once and use that rule set to the end, so a swap
never mixes two rule sets within one request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from etalage.problems import Problem
from etalage.rules.experiments import unversioned_changes
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from etalage.rules.ruleset import RuleSet

__all__ = ["RuleBook"]

log = logging.getLogger("etalage.rules")

_REWATCH = 1.0  # seconds before watching a folder again after the watch broke


class RuleBook:
    def __init__(self, directory: Path, on_reload: Callable[[bool, float], None] | None = None) -> None:
        """Load the folder; raises RuleSetError when it is broken (there is nothing to serve yet).

        `on_reload(in_force, loaded_at)` is told the outcome of the first load and of every reload
        attempt: whether the folder's rules are in force, and when the rules in force were loaded."""
        self.directory = directory
        self._on_reload = on_reload
        self.current: RuleSet = load_rules(directory)
        self.loaded_at = time.time()
        self.last_problems: tuple[Problem, ...] = ()
        self.failed_at: float | None = None
        # Counts completed reload attempts, good or bad; waiters can block on it.
        self.generation = 0
        self._changed = threading.Condition()
        # Set once the watcher is watching: edits from then on are never missed.
        self.watching = threading.Event()
        if on_reload is not None:
            on_reload(True, self.loaded_at)

    def reload(self) -> bool:
        """Load the folder again; True when the new rule set is in force."""
        try:
            ruleset = load_rules(self.directory)
        except RuleSetError as exc:
            self.last_problems, self.failed_at = exc.problems, time.time()
            log.error("rules in %s not reloaded; the last good rule set keeps serving:\n%s", self.directory, exc)
            ok = False
        except Exception as exc:  # a loader bug must not end hot reload: the next change tries again
            self.last_problems, self.failed_at = (Problem(str(self.directory), 1, f"could not be loaded: {exc!r}"),), time.time()
            log.exception("rules in %s not reloaded; the last good rule set keeps serving", self.directory)
            ok = False
        else:
            if self.failed_at is not None:
                # Fixed: said even when the folder is back to the last good version, or the error
                # logged before would be the last word on it.
                log.info("rules in %s loaded again: %d rule(s), version %s", self.directory, len(ruleset.rules), ruleset.version)
            elif ruleset.version != self.current.version:
                log.info("rules reloaded from %s: %d rule(s), version %s", self.directory, len(ruleset.rules), ruleset.version)
            _warn_unversioned(self.current, ruleset)
            self.current, self.loaded_at = ruleset, time.time()
            self.last_problems, self.failed_at = (), None
            ok = True
        if self._on_reload is not None:
            self._on_reload(ok, self.loaded_at)
        with self._changed:
            self.generation += 1
            self._changed.notify_all()
        return ok

    def wait_for_generation(self, generation: int, timeout: float) -> bool:
        """Block (another thread) until `generation` reload attempts have completed."""
        with self._changed:
            return self._changed.wait_for(lambda: self.generation >= generation, timeout)

    async def watch(self) -> None:
        """Reload whenever a file in the folder changes; runs until cancelled.

        The first (possibly empty) batch arrives once the watch is in place; the folder is read
        again then, so an edit made while Etalage was starting is not lost. Loading runs in a
        thread (a large catalogue takes a second to validate; requests must not wait for it). A
        watch that breaks (the folder replaced or gone for a moment) is set up again.
        """
        while True:
            try:
                first = True  # read again as each watch starts: nothing changed in between is missed
                async for changes in watchfiles.awatch(self.directory, debounce=200, step=50, rust_timeout=500, yield_on_timeout=True):
                    if first or changes:
                        first = False
                        await asyncio.to_thread(self.reload)
                        self.watching.set()
            except Exception:
                log.exception("watching %s for rule changes failed; watching again in %.0f s", self.directory, _REWATCH)
            await asyncio.sleep(_REWATCH)


def _warn_unversioned(old: RuleSet, new: RuleSet) -> None:
    """A running experiment changed in a way that mixes two splits should have its version raised:
    said in the log, as the rule set is valid either way."""
    before = {experiment.id: experiment for experiment in old.experiments}
    for experiment in new.experiments:
        previous = before.get(experiment.id)
        for change in unversioned_changes(previous, experiment) if previous is not None else ():
            log.warning(
                "%s: experiment '%s': %s (hint: raise its 'version' to assign everyone again)", experiment.source, experiment.id, change
            )
