"""The visitor's tests and the holdout in words (etalage.control.me.experiments)."""

import pytest

from etalage.control.me.experiments import experiment_lines, holdout_line
from etalage.profiles.profile import Assignment, Profile
from etalage.rules.loader import load_rules

NOW = 1_800_000_000.0  # 15 January 2027
SITE = '[site]\ncategories = { dogs = "Dogs" }\nholdout = 0.05\n[blocks.hero]\nselector = "#hero"\n'
EXPERIMENT = '[[experiment]]\nid = "hero"\nversion = 2\n{extra}\nvariants.none = {{ rules = [] }}\nvariants.big = {{ rules = [] }}\n'


def ruleset(tmp_path, extra=""):
    (tmp_path / "site.toml").write_text(SITE + EXPERIMENT.format(extra=extra))
    return load_rules(tmp_path)


SEEN = Assignment("big", 2, NOW - 86400, NOW - 3600)


def line(tmp_path, extra="", assignment=SEEN):
    (result,) = experiment_lines(ruleset(tmp_path, extra), Profile(assignments={"hero": assignment}), NOW)
    return result


def test_me_experiments_running_says_the_group_and_when_it_was_first_shown(tmp_path):
    result = line(tmp_path)
    assert (result.status, result.variant) == ("running", "big")
    assert result.text.startswith(
        "The shop is testing 'hero' and shows you group 'big' since 14 January 2027, first shown to you on 15 January"
    )


def test_me_experiments_running_not_shown_yet(tmp_path):
    assert "not shown to you yet" in line(tmp_path, assignment=Assignment("big", 2, NOW)).text


@pytest.mark.parametrize(
    ("extra", "status", "words"),
    [
        ('status = "stopped"', "stopped", "is stopped: you see what every visitor sees"),
        ('status = "rolled_out"\nwinner = "none"', "rolled_out", "every visitor now sees group 'none'"),
        ("end = 2027-01-01", "ended", "is not running now: you see what every visitor sees"),
    ],
)
def test_me_experiments_not_running_say_what_the_visitor_sees_now(tmp_path, extra, status, words):
    result = line(tmp_path, extra)
    assert result.status == status and words in result.text and "You were in group 'big'" in result.text


def test_me_experiments_an_earlier_round_is_over(tmp_path):
    result = line(tmp_path, assignment=Assignment("big", 1, NOW))
    assert result.status == "ended" and result.text.startswith("The shop's test 'hero' is over.")


def test_me_experiments_holdout_says_whether_the_visitor_is_in_it(tmp_path):
    rules = ruleset(tmp_path)
    inside, outside = holdout_line(rules, Profile(holdout_place=0.01)), holdout_line(rules, Profile(holdout_place=0.5))
    assert inside is not None and inside.in_holdout and "without any personalization" in inside.text
    assert outside is not None and not outside.in_holdout
    assert holdout_line(rules, Profile()) is None
