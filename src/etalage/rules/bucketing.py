"""Which variant a unit (a visitor or customer id) falls in: GrowthBook's hashing, so that Etalage
and GrowthBook's SDKs put the same unit in the same variant of the same experiment.

A unit's place in an experiment is a number in [0, 1): FNV-1a (32 bits) of the seed and the unit,
hashed again as decimal text, modulo 10,000 (GrowthBook's hash version 2, which removed version 1's
bias between seeds that share a prefix). The variants' weights cut [0, 1) into consecutive ranges,
each shortened to `coverage` of its width; a number in no range (the uncovered rest) is not in the
experiment at all. Raising the coverage later only adds units: those in already stay in.

FNV-1a runs over UTF-16 code units, as the JavaScript SDK's charCodeAt loop does (for ASCII ids,
the bytes).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["fnv1a32", "position", "bucket_ranges", "choose"]

_OFFSET_BASIS = 0x811C9DC5
_PRIME = 0x01000193


def fnv1a32(text: str) -> int:
    """FNV-1a, 32 bits, over the UTF-16 code units of `text`."""
    value = _OFFSET_BASIS
    units = text.encode() if text.isascii() else text.encode("utf-16-le", "surrogatepass")
    step = 1 if text.isascii() else 2
    for index in range(0, len(units), step):
        unit = units[index] if step == 1 else units[index] | units[index + 1] << 8
        value = ((value ^ unit) * _PRIME) & 0xFFFFFFFF
    return value


def position(seed: str, unit: str) -> float:
    """The unit's place in [0, 1) for `seed` (GrowthBook's hash version 2)."""
    return (fnv1a32(str(fnv1a32(seed + unit))) % 10000) / 10000


def bucket_ranges(weights: Sequence[float], coverage: float) -> list[tuple[float, float]]:
    """Each variant's range: `weights` (shares summing to 1) laid end to end, each range then
    cut to `coverage` (0 to 1) of its width from its start."""
    coverage = min(max(coverage, 0.0), 1.0)
    ranges = []
    start = 0.0
    for weight in weights:
        ranges.append((start, start + coverage * weight))
        start += weight
    return ranges


def choose(place: float, ranges: Sequence[tuple[float, float]]) -> int:
    """The index of the range holding `place`, or -1 when none does (not in the experiment)."""
    return next((index for index, (low, high) in enumerate(ranges) if low <= place < high), -1)
