"""`etalage rules explain` against the demo shop."""

import pytest

from etalage.profiles.profile import ProfileDecodeError, profile_from_json
from etalage.rules.loader import load_rules
from etalage.tools.explain import explain, profile_from_options
from tests.support.config import PROJECT_RULES
from tests.support.origin import lifespan
from tests.support.servers import running


@pytest.fixture(scope="module")
def rules():
    return load_rules(PROJECT_RULES)


def outcomes(report):
    return {outcome.rule: (outcome.fired, outcome.reason) for outcome in report.outcomes}


def test_explain_lists_the_rules_that_fired_with_their_reason(shop, rules):
    report = explain(f"{shop}/", rules, profile_from_options(["rodents=3"], [], [], [], []))
    assert outcomes(report)["hero-by-interest"] == (True, "shows a Rodents banner, because Rodents is what you look at most")


def test_explain_gives_a_fired_rule_the_reason_of_its_conditions(shop, rules):
    # The restock banner says the same to everyone it is for: its condition is the reason.
    report = explain(f"{shop}/", rules, profile_from_options([], [], [], [], ["dog-kibble-5kg@27"]))
    fired, reason = outcomes(report)["restock-reminder"]
    assert fired and reason.startswith("shown because dog-kibble-5kg runs out in ")


def test_explain_says_a_fired_rule_without_conditions_is_for_everyone(shop, tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.hero]\nselector = "#hero"\n'
        '[[rule]]\nid = "no-hero"\naction = "hide"\nblock = "hero"\n'
    )
    report = explain(f"{shop}/", load_rules(tmp_path), profile_from_options([], [], [], [], []))
    assert outcomes(report) == {"no-hero": (True, "shown to every visitor on this page (the rule has no conditions)")}


def test_explain_gives_the_first_reason_a_rule_did_not_fire(shop, rules):
    report = explain(f"{shop}/", rules, profile_from_options(["rodents=1"], [], [], [], []))
    assert outcomes(report)["newsletter-popin"] == (False, "nothing to change for this visitor")


def test_explain_names_rules_meant_for_other_pages(shop, rules):
    report = explain(f"{shop}/c/dogs", rules, profile_from_options(["rodents=3"], [], [], [], []))
    assert outcomes(report)["hero-by-interest"][1] == "not for this page: /c/dogs matches none of ^/$"


def test_explain_shows_the_html_diff(shop, rules):
    report = explain(f"{shop}/", rules, profile_from_options(["rodents=3"], [], [], [], []))
    assert any(line.startswith("+") and "Small pets, big personalities" in line for line in report.diff)


def test_explain_leaves_non_html_alone(shop, rules):
    report = explain(f"{shop}/static/shop.css", rules, profile_from_options([], [], [], [], []))
    assert report.outcomes == [] and "passes through unchanged" in report.note


def test_explain_reads_a_partial_profile_file():
    profile = profile_from_json(b'{"category_views": {"fish": 4}, "interests": ["birds"]}')
    assert profile.category_views == {"fish": 4} and profile.interests == {"birds"}


def test_explain_refuses_a_profile_file_that_is_not_an_object():
    with pytest.raises(ProfileDecodeError):
        profile_from_json(b"[1, 2]")


MINIFIED = (
    "<!DOCTYPE html><html><head><title>Café</title></head><body><div id=hero><p>Crème brûlée</p></div>"
    + "".join(f"<p>Kühlschrank {i}</p>" for i in range(200))
    + "</body></html>"
).encode()


async def minified_shop(scope, receive, send):
    """A page on one line, in UTF-8 with no charset declared anywhere (as on many real shops)."""
    if await lifespan(scope, receive, send):
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": MINIFIED})


def test_explain_diff_shows_an_undeclared_utf8_page_as_utf8_and_a_long_line_around_its_change(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.hero]\nselector = "#hero"\n'
        '[[rule]]\nid = "no-hero"\naction = "hide"\nblock = "hero"\n'
    )
    with running(minified_shop) as url:
        report = explain(f"{url}/", load_rules(tmp_path), profile_from_options([], [], [], [], []))
    changed = [line for line in report.diff if line.startswith(("-<", "+<"))]
    assert changed and all(len(line) < 200 for line in changed) and "Crème brûlée" in "".join(report.diff)
