"""Rule loading, tested with folders of good and bad rule files and their exact messages."""

from pathlib import Path

import pytest

from etalage.loader import load_rules
from etalage.ruleset import RuleSetError

from .conftest import PROJECT_RULES

RULESETS = Path(__file__).parent / "rulesets"
BAD = sorted(path for path in (RULESETS / "bad").iterdir() if path.is_dir())


def test_loader_accepts_the_project_rules():
    ruleset = load_rules(PROJECT_RULES)
    assert {rule.id for rule in ruleset.rules} >= {"hero-by-interest", "popular-by-interest", "newsletter-popin"}


@pytest.mark.parametrize("folder", sorted((RULESETS / "good").iterdir()), ids=lambda p: p.name)
def test_loader_accepts_good_folders(folder):
    assert load_rules(folder).rules


@pytest.mark.parametrize("folder", BAD, ids=lambda p: p.name)
def test_loader_reports_every_problem_with_file_and_line(folder):
    with pytest.raises(RuleSetError) as caught:
        load_rules(folder)
    expected = (folder / "expected.txt").read_text().splitlines()
    assert [str(problem) for problem in caught.value.problems] == expected


def test_loader_orders_rules_by_priority_then_file_order(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.a]\nselector = "#a"\n[blocks.b]\nselector = "#b"\n'
        '[[rule]]\nid = "first"\naction = "banner"\nblock = "a"\ntemplates = {}\n'
        '[[rule]]\nid = "urgent"\naction = "banner"\nblock = "b"\npriority = 5\ntemplates = {}\n'
    )
    assert [rule.id for rule in load_rules(tmp_path).rules] == ["urgent", "first"]


def test_loader_skips_disabled_rules(tmp_path):
    (tmp_path / "site.toml").write_text('[site]\ncategories = { dogs = "Dogs" }\n[[rule]]\nid = "off"\naction = "popin"\nenabled = false\ntemplate = "x.html"\n')
    assert load_rules(tmp_path).rules == ()


def test_loader_version_changes_with_a_template(tmp_path):
    (tmp_path / "site.toml").write_text('[site]\ncategories = { dogs = "Dogs" }\n[[rule]]\nid = "p"\naction = "popin"\ntemplate = "p.html"\n')
    (tmp_path / "p.html").write_text("<p>{{ category }}</p>")
    before = load_rules(tmp_path).version
    (tmp_path / "p.html").write_text("<p>{{ category_label }}</p>")
    assert load_rules(tmp_path).version != before


def test_loader_missing_folder_is_a_problem(tmp_path):
    with pytest.raises(RuleSetError, match="not found"):
        load_rules(tmp_path / "nope")
