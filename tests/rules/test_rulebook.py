"""Hot reload: rule changes take effect without a restart; a broken folder never replaces a good one."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import create_app
from etalage.rules.rulebook import RuleBook
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.reload import wait_until
from tests.support.servers import running

TOKEN = "admin-token-for-tests"


def edit(path: Path, old: str, new: str) -> None:
    """Change a rule file the way editors save: a complete new file renamed over the old one."""
    staged = path.with_name(path.name + ".saving")
    staged.write_text(path.read_text().replace(old, new))
    os.replace(staged, path)


@pytest.fixture
def rules_dir(tmp_path):
    return shutil.copytree(PROXY_RULES, tmp_path / "rules")


def test_rulebook_reload_swaps_in_a_valid_change(rules_dir):
    book = RuleBook(rules_dir)
    (rules_dir / "templates" / "popin.html").write_text("<p>New {{ category_label }} letter</p>")
    assert book.reload() and "New" in book.current.rules[2].action.template.render({"category_label": "x", "category": "x"})


def test_rulebook_keeps_the_last_good_rules_when_a_change_is_broken(rules_dir):
    book = RuleBook(rules_dir)
    before = book.current
    (rules_dir / "rules.toml").write_text((rules_dir / "rules.toml").read_text().replace('block = "hero"', 'blok = "hero"'))
    assert not book.reload() and book.current is before
    assert any("unknown key 'blok'" in problem.message for problem in book.last_problems)


def test_rulebook_tells_each_load_attempt_s_outcome(rules_dir):
    # What etalage_rules_last_reload_successful shows: a refused change is visible to monitoring, not only in the log.
    told: list[tuple[bool, float]] = []
    book = RuleBook(rules_dir, on_reload=lambda in_force, loaded_at: told.append((in_force, loaded_at)))
    original = (rules_dir / "rules.toml").read_text()
    (rules_dir / "rules.toml").write_text(original.replace('block = "hero"', 'blok = "hero"'))
    book.reload()
    (rules_dir / "rules.toml").write_text(original)
    book.reload()
    assert [in_force for in_force, _ in told] == [True, False, True]
    assert told[1][1] == told[0][1] and told[2][1] == book.loaded_at


def test_rulebook_clears_the_error_once_fixed(rules_dir):
    book = RuleBook(rules_dir)
    original = (rules_dir / "rules.toml").read_text()
    (rules_dir / "rules.toml").write_text(original.replace('block = "hero"', 'blok = "hero"'))
    book.reload()
    (rules_dir / "rules.toml").write_text(original)
    assert book.reload() and book.last_problems == () and book.failed_at is None


def test_rulebook_logs_a_fixed_folder_as_loaded_again(rules_dir, caplog):
    book = RuleBook(rules_dir)
    original = (rules_dir / "rules.toml").read_text()
    (rules_dir / "rules.toml").write_text(original.replace('block = "hero"', 'blok = "hero"'))
    book.reload()
    (rules_dir / "rules.toml").write_text(original)  # back to the version still in force
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="etalage.rules"):
        assert book.reload()
    assert [(record.levelname, "loaded again" in record.getMessage()) for record in caplog.records] == [("INFO", True)]


def test_rulebook_logs_nothing_when_a_reload_changes_nothing(rules_dir, caplog):
    book = RuleBook(rules_dir)
    with caplog.at_level(logging.INFO, logger="etalage.rules"):
        assert book.reload()
    assert caplog.records == []


@pytest.fixture
def live(origin, rules_dir):
    app = create_app(settings_for(origin, rules_dir, admin_token=TOKEN))
    with running(app) as url:
        assert app.rules.watching.wait(timeout=30), "the rules watcher did not start"
        yield url, app.rules


def hero(client: httpx.Client) -> str:
    return LexborHTMLParser(client.get("/home").content).css_first("#hero").text()


def test_rulebook_a_template_edit_takes_effect_without_restart(live, rules_dir):
    url, book = live
    with httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
        client.get("/c/rodents")
        old_version = book.current.version
        hero_template = rules_dir / "templates" / "hero.html"
        edit(hero_template, hero_template.read_text(), "<h1>Fresh {{ category_label }} deals</h1>")
        assert wait_until(book, lambda: book.current.version != old_version)
        assert hero(client) == "Fresh Rodents deals"


def test_rulebook_a_broken_edit_keeps_serving_the_last_good_rules(live, rules_dir):
    url, book = live
    with httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
        client.get("/c/rodents")
        edit(rules_dir / "rules.toml", 'action = "banner"', 'action = "baner"')
        assert wait_until(book, lambda: book.failed_at is not None)
        assert hero(client) == "For Rodents loversShop Rodents €"


def test_rulebook_the_admin_status_shows_the_last_load_error(live, rules_dir):
    url, book = live
    edit(rules_dir / "rules.toml", 'action = "banner"', 'action = "baner"')
    assert wait_until(book, lambda: book.failed_at is not None)
    status = httpx.get(f"{url}/.etalage/admin/rules", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    problem = status["last_error"]["problems"][0]
    assert (problem["file"], problem["line"]) == ("rules/rules.toml", 3) and "baner" in problem["message"]


def test_rulebook_the_admin_status_lists_rules_with_fire_counts(live):
    url, _ = live
    with httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
        client.get("/c/rodents")
        client.get("/home")
    status = httpx.get(f"{url}/.etalage/admin/rules", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert {rule["id"]: rule["fired"] for rule in status["rules"]} == {"hero": 2, "sort": 2, "popin": 0}


def test_rulebook_the_admin_status_says_when_no_card_has_a_category(origin, rules_dir):
    # The shop's cards do not hold the attribute the block names: the sort never fires, and says why.
    edit(rules_dir / "site.toml", 'item_category = "data-category"', 'item_category = "data-kategorie"')
    app = create_app(settings_for(origin, rules_dir, admin_token=TOKEN))
    with running(app) as url:
        with httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
            client.get("/c/rodents")
            client.get("/home")
        status = httpx.get(f"{url}/.etalage/admin/rules", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    sort = next(rule for rule in status["rules"] if rule["id"] == "sort")
    assert sort["fired"] == 0 and sort["status"] == (
        "0 of 4 cards have a category on the last page sorted "
        "(check 'item_category', 'item_id' or 'item_id_from_link' of [blocks.popular], and [catalog])"
    )


def test_rulebook_an_edit_made_while_starting_is_not_lost(origin, rules_dir):
    app = create_app(settings_for(origin, rules_dir))
    edit(rules_dir / "rules.toml", 'action = "banner"', 'action = "baner"')  # before the watcher runs
    with running(app):
        assert wait_until(app.rules, lambda: app.rules.failed_at is not None)


def test_rulebook_the_admin_status_needs_the_token(live):
    url, _ = live
    assert httpx.get(f"{url}/.etalage/admin/rules").status_code == 401


# -- folders that change under the watcher (editors, Kubernetes ConfigMaps) ------------------------


def test_rulebook_a_dangling_link_is_a_problem_not_a_crash(rules_dir):
    book = RuleBook(rules_dir)
    before = book.current
    (rules_dir / "rules.toml").unlink()
    (rules_dir / "rules.toml").symlink_to(rules_dir / "gone.toml")
    assert not book.reload() and book.current is before
    assert [(problem.file.endswith("rules.toml"), "cannot be read" in problem.message) for problem in book.last_problems] == [(True, True)]


def configmap(tmp_path: Path) -> Path:
    """A rules folder laid out as Kubernetes mounts a ConfigMap: each file a link through `..data`,
    itself a link to the current version's folder."""
    mounted = tmp_path / "mounted"
    shutil.copytree(PROXY_RULES, mounted / "..v1")
    (mounted / "..data").symlink_to("..v1")
    for entry in (mounted / "..v1").iterdir():
        (mounted / entry.name).symlink_to(Path("..data") / entry.name)
    return mounted


def swap(mounted: Path, version: str) -> None:
    """Point `..data` at another version in one rename, as the kubelet does."""
    (mounted / "..data_tmp").symlink_to(version)
    os.replace(mounted / "..data_tmp", mounted / "..data")


def test_rulebook_keeps_watching_through_a_configmap_swap_that_dangles(origin, tmp_path):
    mounted = configmap(tmp_path)
    app = create_app(settings_for(origin, mounted))
    with running(app):
        assert app.rules.watching.wait(timeout=30), "the rules watcher did not start"
        swap(mounted, "..missing")  # the new version's folder is not there (yet): every link dangles
        assert wait_until(app.rules, lambda: app.rules.failed_at is not None)
        shutil.copytree(PROXY_RULES, mounted / "..v2")
        (mounted / "..v2" / "templates" / "hero.html").write_text("<h1>Version two</h1>")
        old_version = app.rules.current.version
        swap(mounted, "..v2")
        assert wait_until(app.rules, lambda: app.rules.current.version != old_version and app.rules.failed_at is None)


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_rulebook_reloads_off_the_event_loop(origin, rules_dir, monkeypatch):
    reloads_on_loop = []
    reload = RuleBook.reload

    def recorded(book: RuleBook) -> bool:
        reloads_on_loop.append(on_event_loop())
        return reload(book)

    monkeypatch.setattr(RuleBook, "reload", recorded)
    app = create_app(settings_for(origin, rules_dir))
    with running(app):
        assert app.rules.watching.wait(timeout=30), "the rules watcher did not start"
        edit(rules_dir / "rules.toml", 'action = "banner"', 'action = "baner"')
        assert wait_until(app.rules, lambda: app.rules.failed_at is not None)
    assert reloads_on_loop and not any(reloads_on_loop)


EXPERIMENT = (
    '[[experiment]]\nid = "test"\nversion = {version}\nvariants.a = {{ rules = [], weight = {weight} }}\nvariants.b = {{ rules = [] }}\n'
)


def experiment_warnings(rules_dir: Path, caplog: pytest.LogCaptureFixture, version: int, weight: int) -> list[str]:
    (rules_dir / "experiment.toml").write_text(EXPERIMENT.format(version=1, weight=1))
    book = RuleBook(rules_dir)
    (rules_dir / "experiment.toml").write_text(EXPERIMENT.format(version=version, weight=weight))
    with caplog.at_level(logging.WARNING, logger="etalage.rules"):
        assert book.reload()
    return [record.getMessage() for record in caplog.records]


def test_rulebook_warns_of_weights_changed_without_raising_the_version(rules_dir, caplog):
    assert experiment_warnings(rules_dir, caplog, version=1, weight=3) == [
        "rules/experiment.toml:1: experiment 'test': the variants' weights changed: visitors already assigned keep their "
        "variant, new ones get the new weights (hint: raise its 'version' to assign everyone again)"
    ]


def test_rulebook_says_nothing_of_weights_changed_with_the_version_raised(rules_dir, caplog):
    assert experiment_warnings(rules_dir, caplog, version=2, weight=3) == []
