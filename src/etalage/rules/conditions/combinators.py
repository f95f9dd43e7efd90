"""Conditions made of conditions: all, any, not and named segments; and the condition that always holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from etalage.rules.conditions.analysis import contradiction, merge
from etalage.rules.conditions.base import Condition, Fact, Verdict, Visit

__all__ = ["ALWAYS", "Broken", "AllOf", "AnyOf", "Not", "Segment"]


class _Always(Condition):
    __slots__ = ()
    _VERDICT = Verdict(True, "no conditions")

    def test(self, visit: Visit) -> bool:
        return True

    def check(self, visit: Visit) -> Verdict:
        return self._VERDICT

    def describe(self) -> str:
        return "always"

    def _always(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "ALWAYS"


ALWAYS: Condition = _Always()


class Broken(Condition):
    """Stands for a segment that did not compile, so uses of it cause no second message. Never run:
    a rule folder with any problem is refused."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def test(self, visit: Visit) -> bool:
        raise RuntimeError(f"segment '{self.name}' did not compile")

    def check(self, visit: Visit) -> Verdict:
        raise RuntimeError(f"segment '{self.name}' did not compile")

    def describe(self) -> str:
        return f"segment '{self.name}' (invalid)"


def _grouped(condition: Condition) -> str:
    text = condition.describe()
    return f"({text})" if isinstance(condition, (AllOf, AnyOf)) else text


@dataclass(frozen=True, slots=True)
class AllOf(Condition):
    children: tuple[Condition, ...]

    def test(self, visit: Visit) -> bool:
        for child in self.children:
            if not child.test(visit):
                return False
        return True

    def check(self, visit: Visit) -> Verdict:
        reasons = []
        for child in self.children:
            verdict = child.check(visit)
            if not verdict.ok:
                return verdict
            reasons.append(verdict.reason)
        return Verdict(True, "; ".join(reasons))

    def describe(self) -> str:
        return " and ".join(_grouped(child) for child in self.children)

    def _facts(self) -> list[Fact]:
        return [fact for child in self.children for fact in child._facts()]

    def _never(self) -> str | None:
        for child in self.children:
            reason = child._never()
            if reason:
                return reason
        required = list(_members(self))
        for member in required:
            if isinstance(member, Not) and _unwrap(member.inner) in required:
                return f"'{_unwrap(member.inner).describe()}' and '{member.describe()}' cannot both hold"
        return contradiction(self._facts())

    def _always(self) -> bool:
        return all(child._always() for child in self.children)


@dataclass(frozen=True, slots=True)
class AnyOf(Condition):
    children: tuple[Condition, ...]

    def test(self, visit: Visit) -> bool:
        for child in self.children:
            if child.test(visit):
                return True
        return False

    def check(self, visit: Visit) -> Verdict:
        reasons = []
        for child in self.children:
            verdict = child.check(visit)
            if verdict.ok:
                return verdict
            reasons.append(verdict.reason)
        if len(reasons) == 1:
            return Verdict(False, reasons[0])
        return Verdict(False, "none of these holds: " + "; ".join(reasons))

    def describe(self) -> str:
        return " or ".join(_grouped(child) for child in self.children)

    def _facts(self) -> list[Fact]:
        # A set every alternative restricts holds for the whole: the union of what each allows.
        merged = [merge(child._facts()) for child in self.children]
        facts = []
        for dimension, allowed in merged[0].items():
            if isinstance(allowed, frozenset) and all(isinstance(m.get(dimension), frozenset) for m in merged):
                union = frozenset().union(*(m[dimension] for m in merged))
                facts.append(Fact(dimension, union, self.describe()))
        return facts

    def _never(self) -> str | None:
        reasons = [child._never() for child in self.children]
        if all(reasons):
            return reasons[0] if len(reasons) == 1 else "none of its alternatives can hold: " + "; ".join(reasons)  # type: ignore[arg-type]
        return None

    def _always(self) -> bool:
        return any(child._always() for child in self.children)


@dataclass(frozen=True, slots=True)
class Not(Condition):
    inner: Condition

    def test(self, visit: Visit) -> bool:
        return not self.inner.test(visit)

    def check(self, visit: Visit) -> Verdict:
        verdict = self.inner.check(visit)
        if verdict.ok:
            return Verdict(False, f"{verdict.reason}, needs {self.describe()}")
        return Verdict(True, f"not {self.inner.describe()} ({verdict.reason})")

    def describe(self) -> str:
        return f"not ({self.inner.describe()})" if isinstance(self.inner, (AllOf, AnyOf)) else f"not {self.inner.describe()}"

    def _facts(self) -> list[Fact]:
        return _unwrap(self.inner)._facts_if_not(self.describe())

    def _never(self) -> str | None:
        if self.inner._always():
            return f"'{self.inner.describe()}' always holds, so '{self.describe()}' never does"
        return None

    def _always(self) -> bool:
        return self.inner._never() is not None


@dataclass(frozen=True, slots=True, eq=False)
class Segment(Condition):
    """A named segment; every reference to it shares this object."""

    name: str
    condition: Condition

    def test(self, visit: Visit) -> bool:
        return self.condition.test(visit)

    def check(self, visit: Visit) -> Verdict:
        verdict = self.condition.check(visit)
        if verdict.ok:
            return Verdict(True, f"in segment '{self.name}': {verdict.reason}")
        return Verdict(False, f"not in segment '{self.name}': {verdict.reason}")

    def describe(self) -> str:
        return f"segment '{self.name}'"

    def _facts(self) -> list[Fact]:
        return self.condition._facts()

    def _never(self) -> str | None:
        reason = self.condition._never()
        return f"segment '{self.name}' never matches: {reason}" if reason else None

    def _always(self) -> bool:
        return self.condition._always()


def _unwrap(condition: Condition) -> Condition:
    """The condition a segment stands for (through segments of segments)."""
    while isinstance(condition, Segment):
        condition = condition.condition
    return condition


def _members(condition: Condition) -> Iterable[Condition]:
    """The conditions an `all` requires, nested `all`s and segments opened up."""
    condition = _unwrap(condition)
    if isinstance(condition, AllOf):
        for child in condition.children:
            yield from _members(child)
    else:
        yield condition
