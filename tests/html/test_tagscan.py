"""etalage.html.tagscan: where tags are, as byte offsets."""

from __future__ import annotations

import random

import pytest

from etalage.html.tagscan import _scan_template, scan
from tests.support.corpus import PARAMS, cases, corpus_file


def assert_same_as_template_aware_scan(data: bytes) -> None:
    lean, careful = scan(data), _scan_template(data.lower(), 0)
    assert (lean.starts, lean.ends, lean.self_closing) == (careful.starts, careful.ends, careful.self_closing)


def test_scan_without_template_agrees_with_the_template_aware_scan_on_tag_soup() -> None:
    # A page without `<template` is scanned by a leaner loop; it must find the same tags.
    pieces = [b"<div a='1>'>", b"</div>", b"<br/>", b"<script>", b"</script>", b"<!--", b"-->", b"<style>", b"</style", b">"]
    pieces += [b"<title>", b"</title>", b"<plaintext>", b"x", b"<", b"</", b'<p class="a>b">', b"<svg><path/>", b"</x y>"]
    rng = random.Random(13)
    for _ in range(3000):
        assert_same_as_template_aware_scan(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30))))


@pytest.mark.parametrize(**PARAMS)
def test_scan_without_template_agrees_with_the_template_aware_scan_on_the_corpus(path) -> None:
    for data in cases(corpus_file(path)):
        if b"<template" not in data.lower():
            assert_same_as_template_aware_scan(data)


def test_scan_leaves_out_tags_inside_template_content() -> None:
    found = scan(b"<div><template><div><p>x</p></template></div><p>")
    assert found.starts == {b"div": [0], b"template": [5], b"p": [45]} and found.ends == {b"template": [28], b"div": [39]}
