"""Which of the site's categories a product's feed categories (product_type, google_product_category) mean."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["CategoryMap"]


def _normal(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).casefold()


def _segments(text: str) -> list[str]:
    return [segment for segment in (_normal(part) for part in text.split(">")) if segment]


class CategoryMap:
    """Which of the site's categories a product's feed categories mean (see the package docstring, etalage.tools.products)."""

    def __init__(self, mapping: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self._keys = {" > ".join(_segments(text)): slug for text, slug in mapping.items() if _segments(text)}
        self._names: dict[str, str] = {}
        for slug, label in labels.items():
            self._names.setdefault(_normal(slug), slug)
            self._names.setdefault(_normal(label), slug)

    def category(self, texts: Iterable[str]) -> str | None:
        texts = tuple(texts)
        for text in texts:
            found = self._path(text)
            if found is not None:
                return found
        # Text feeds may list several product types in one cell, separated by commas.
        for text in texts:
            if "," in text:
                for part in text.split(","):
                    found = self._path(part)
                    if found is not None:
                        return found
        return None

    def _path(self, text: str) -> str | None:
        segments = _segments(text)
        for depth in range(len(segments), 0, -1):
            for width in range(depth, 0, -1):  # the longest run of segments ending here first
                slug = self._keys.get(" > ".join(segments[depth - width : depth]))
                if slug is not None:
                    return slug
            slug = self._names.get(segments[depth - 1])
            if slug is not None:
                return slug
        return None
