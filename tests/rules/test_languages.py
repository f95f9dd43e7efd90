"""Templates per language: the shop decides the language (path prefix or Accept-Language)."""

from __future__ import annotations

import httpx
import pytest

from etalage.app import create_app
from etalage.html.page import analyse
from etalage.profiles.profile import Profile
from etalage.rules.actions import PageContext
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from etalage.rules.model import Site
from tests.support.config import ACCEPT_ONETRUST, settings_for
from tests.support.servers import running

SITE = Site(("dogs",), {"dogs": "Dogs"}, languages=("nl", "en", "de"), language_from="accept-language")


def test_languages_prefer_the_visitors_highest_quality_known_language():
    assert SITE.language_of("/", "fr;q=1.0, en;q=0.8, nl;q=0.5") == "en"


def test_languages_match_regional_variants():
    assert SITE.language_of("/", "de-CH") == "de"


def test_languages_fall_back_to_the_default():
    assert SITE.language_of("/", "fr, es;q=0.5") == "nl" and SITE.language_of("/", None) == "nl"


def test_languages_from_the_path_prefix():
    site = Site(("dogs",), {"dogs": "Dogs"}, languages=("nl", "en"), language_from="path")
    assert (site.language_of("/en/c/dogs", None), site.language_of("/c/dogs", "en")) == ("en", "nl")


def test_languages_without_languages_the_site_has_none():
    assert Site(("dogs",), {"dogs": "Dogs"}).language_of("/en/", "en") == ""


def write_rules(folder, languages='["nl", "en"]', files=("nl", "en")):
    (folder / "templates").mkdir(parents=True)
    (folder / "site.toml").write_text(
        f'[site]\ncategories = {{ dogs = "Dogs" }}\nlanguages = {languages}\nlanguage_from = "accept-language"\n'
        "[[learn]]\nevent = \"category_view\"\npath = '^/c/(?P<category>[a-z]+)$'\n"
        '[[rule]]\nid = "popin"\naction = "popin"\nmin_views = 1\ntemplate = "templates/{lang}/popin.html"\n'
    )
    words = {"nl": "De nieuwsbrief voor {{ category_label }}", "en": "The {{ category_label }} newsletter"}
    for code in files:
        (folder / "templates" / code).mkdir()
        (folder / "templates" / code / "popin.html").write_text(f"<p>{words[code]}</p>")
    return folder


def test_languages_a_missing_translation_is_a_load_error(tmp_path):
    with pytest.raises(RuleSetError) as caught:
        load_rules(write_rules(tmp_path / "rules", files=("nl",)))
    assert [str(p) for p in caught.value.problems] == [
        "rules/site.toml:12: rule 'popin': template file 'templates/en/popin.html' not found (hint: looked in rules/templates/en)"
    ]


def test_languages_a_lang_template_needs_site_languages(tmp_path):
    with pytest.raises(RuleSetError, match=r"has \{lang\}, but \[site\] names no languages"):
        load_rules(write_rules(tmp_path / "rules", languages="[]"))


def test_languages_refuse_a_malformed_code(tmp_path):
    with pytest.raises(RuleSetError, match="'English' is not a language code"):
        load_rules(write_rules(tmp_path / "rules", languages='["nl", "English"]'))


@pytest.mark.parametrize(("accept", "text"), [("en-GB,en;q=0.9", b"The Dogs newsletter"), ("nl-NL", b"De nieuwsbrief voor Dogs")])
def test_languages_the_popin_speaks_the_visitors_language(origin, tmp_path, accept, text):
    rules = write_rules(tmp_path / "rules")
    with running(create_app(settings_for(origin, rules))) as url:
        with httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}, headers={"Accept-Language": accept}) as client:
            client.get("/c/dogs")
            assert text in client.get("/home").content


def labelled_rules(
    folder, label='{ nl = "Voor jou", en = "For you", de = "Für dich" }', why: str | None = '{ nl = "waarom?", en = "why?", de = "warum?" }'
):
    folder.mkdir(parents=True)
    (folder / "hero.html").write_text("<h1>Hallo</h1>")
    (folder / "site.toml").write_text(
        f'[site]\ncategories = {{ dogs = "Dogs" }}\nlanguages = ["nl", "en", "de"]\n{"" if why is None else f"why = {why}"}\n'
        '[blocks.hero]\nselector = "#hero"\n'
        f'[[rule]]\nid = "hero"\naction = "banner"\nblock = "hero"\ntemplate = "hero.html"\nlabel = {label}\n'
    )
    return load_rules(folder)


def banner_label(ruleset, language: str) -> str:
    layout = analyse(b'<body><div id="hero">old</div></body>', [ruleset.blocks["hero"].spec])
    page = PageContext(layout, Profile(), ruleset.site, "utf-8", "/", 0.0, language)
    (rule,) = ruleset.rules
    html = b"".join(edit.data for edit in rule.action.apply("hero", layout.blocks["hero"], page)).decode()
    return html[html.index("<p") :]


def test_languages_a_label_and_its_why_link_follow_the_page_language(tmp_path):
    ruleset = labelled_rules(tmp_path / "rules")
    assert banner_label(ruleset, "de") == '<p class="etalage-label"><small>Für dich · <a href="/.etalage/me">warum?</a></small></p>'
    assert banner_label(ruleset, "nl") == '<p class="etalage-label"><small>Voor jou · <a href="/.etalage/me">waarom?</a></small></p>'


def test_languages_one_label_gets_the_why_link_of_the_page_language(tmp_path):
    ruleset = labelled_rules(tmp_path / "rules", label='"Etalage"')
    assert banner_label(ruleset, "de") == '<p class="etalage-label"><small>Etalage · <a href="/.etalage/me">warum?</a></small></p>'


def test_languages_the_why_link_says_why_by_default(tmp_path):
    ruleset = labelled_rules(tmp_path / "rules", why=None)
    assert banner_label(ruleset, "de") == '<p class="etalage-label"><small>Für dich · <a href="/.etalage/me">why?</a></small></p>'


def test_languages_a_label_per_language_needs_site_languages(tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.hero]\nselector = "#hero"\n'
        '[[rule]]\nid = "hero"\naction = "banner"\nblock = "hero"\ntemplates = {}\nlabel = { nl = "Voor jou" }\n'
    )
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path.name}/site.toml:10: rule 'hero': 'label' is given per language, but [site] names no languages"
        ' (hint: give one text (label = "...") or add languages = ["nl", "en"] to [site])'
    ]
