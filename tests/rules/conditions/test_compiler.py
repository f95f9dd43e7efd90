"""The compiler (etalage.rules.conditions.compiler): every rule-file message exactly as the loader prints it,
and segments compiled across files."""

from __future__ import annotations

import tomllib

from etalage.rules.conditions import ALWAYS, Verdict, compile_condition, compile_segments
from etalage.rules.fields import Fields
from etalage.rules.tomlpos import KeyLines
from tests.rules.conditions.helpers import CATALOG, DOG_LOVERS, SITE, compile_file, problems_of, verdict, visit

# -- the when table ----------------------------------------------------------------------------


def test_compile_condition_without_the_key_is_always():
    condition, _, problems = compile_file('[[rule]]\nid = "r"\n')
    assert problems == [] and condition is ALWAYS
    assert verdict(condition, visit()) == Verdict(True, "no conditions")


def test_compile_condition_marks_its_key_as_known():
    text = '[[rule]]\nwhen = { device = "bot" }\n'
    problems: list = []
    document = tomllib.loads(text)
    rule = Fields(document, (), "rules.toml", KeyLines(text), problems).entry("rule", 0, document["rule"][0])
    compile_condition(rule, "when", SITE, CATALOG, {})
    rule.finish()
    assert problems == []


def test_when_unknown_kind_suggests_a_close_one():
    assert problems_of('[[rule]]\nwhen = { afinity = { category = "dogs" } }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'afinity' (hint: did you mean 'affinity'?)"
    ]


def test_when_unknown_kind_lists_the_kinds():
    assert problems_of('[[rule]]\nwhen = { weather = "sunny" }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'weather' (hint: known conditions: all, any, not, segment, affinity, top, lifecycle, "
        "visits, days_since_last_visit, purchased, replenishment_due, subscribed, interested_in, excluded, crm_segment, path, query, referrer, device, time, dates)"
    ]


def test_when_category_outside_a_kind_says_where_it_goes():
    assert problems_of('[[rule]]\nwhen = { category = "dogs" }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'category' (hint: a category goes inside a condition, e.g. affinity = { category = \"dogs\", min = 2 })"
    ]


def test_when_utm_parameter_outside_query_says_where_it_goes():
    assert problems_of('[[rule]]\nwhen = { utm_source = "mail" }\n') == [
        "rules.toml:2: rule 'r': when: unknown condition 'utm_source' (hint: query parameters go inside query, e.g. query = { utm_source = \"...\" })"
    ]


def test_when_must_be_a_table():
    assert problems_of('[[rule]]\nwhen = [ { device = "mobile" } ]\n') == [
        "rules.toml:2: rule 'r': 'when' must be a table of conditions, not a list (hint: for conditions that must all hold write when = { all = [...] })"
    ]


def test_when_as_a_segment_name_shows_how_to_use_one():
    assert problems_of('[[rule]]\nwhen = "dog-lovers"\n') == [
        "rules.toml:2: rule 'r': 'when' must be a table of conditions, not a string (hint: to use a segment write when = { segment = \"dog-lovers\" })"
    ]


def test_when_empty_is_refused():
    assert problems_of("[[rule]]\nwhen = {}\n") == [
        "rules.toml:2: rule 'r': when: no condition given (hint: e.g. { lifecycle = \"customer\" })"
    ]


def test_when_kind_needs_a_table():
    assert problems_of('[[rule]]\nwhen = { affinity = "dogs" }\n') == [
        "rules.toml:2: rule 'r': when: 'affinity' must be a table, not a string (hint: e.g. affinity = { category = \"dogs\", min = 2 })"
    ]


def test_when_unknown_key_in_a_kind_suggests_a_close_one():
    assert problems_of('[[rule]]\nwhen = { affinity = { category = "dogs", mni = 2 } }\n') == [
        "rules.toml:2: rule 'r': when.affinity: unknown key 'mni' (hint: did you mean 'min'?)"
    ]


def test_when_nested_problems_name_their_place():
    text = '[[rule]]\nid = "r"\nwhen = { any = [ { not = { top = { category = "dog", n = 0 } } } ] }\n'
    assert problems_of(text) == [
        "rules.toml:3: rule 'r': when.any[0].not.top: 'category': unknown category 'dog' (hint: did you mean 'dogs'?)",
        "rules.toml:3: rule 'r': when.any[0].not.top: 'n': must be at least 1",
    ]


def test_when_every_problem_is_reported():
    text = '[[rule]]\nwhen = { lifecycle = "vip", device = "phone", visits = { min = "1" } }\n'
    assert problems_of(text) == [
        "rules.toml:2: rule 'r': when: 'lifecycle': unknown lifecycle stage 'vip' (hint: known: prospect, customer, repeat_customer)",
        "rules.toml:2: rule 'r': when: 'device': unknown device 'phone' (hint: known: mobile, tablet, desktop, bot)",
        "rules.toml:2: rule 'r': when.visits: 'min' must be a whole number, not a string",
    ]


# -- each kind's table -------------------------------------------------------------------------


def test_top_needs_a_category():
    assert problems_of("[[rule]]\nwhen = { top = { n = 2 } }\n") == ["rules.toml:2: rule 'r': when.top: missing required key 'category'"]


def test_affinity_unknown_category_lists_the_categories():
    assert problems_of('[[rule]]\nwhen = { affinity = { category = "horses" } }\n') == [
        "rules.toml:2: rule 'r': when.affinity: 'category': unknown category 'horses' (hint: categories are: dogs, cats, rodents, fish)"
    ]


def test_subscribed_unknown_category_suggests_a_close_one():
    assert problems_of('[[rule]]\nwhen = { subscribed = ["dogs", "cast"] }\n') == [
        "rules.toml:2: rule 'r': when: 'subscribed': unknown category 'cast' (hint: did you mean 'cats'?)"
    ]


def test_excluded_category_listed_twice_is_refused():
    assert problems_of('[[rule]]\nwhen = { excluded = ["cats", "cats"] }\n') == [
        "rules.toml:2: rule 'r': when: 'excluded': 'cats' is listed twice"
    ]


def test_interested_in_needs_a_name_or_a_list():
    assert problems_of("[[rule]]\nwhen = { interested_in = 3 }\n") == [
        "rules.toml:2: rule 'r': when: 'interested_in' must be a category or a list of them, not a whole number (hint: e.g. interested_in = \"fish\")"
    ]


def test_device_empty_list_is_refused():
    assert problems_of("[[rule]]\nwhen = { device = [] }\n") == [
        "rules.toml:2: rule 'r': when: 'device' is empty (hint: list at least one device)"
    ]


def test_lifecycle_unknown_stage_suggests_a_close_one():
    assert problems_of('[[rule]]\nwhen = { lifecycle = "customers" }\n') == [
        "rules.toml:2: rule 'r': when: 'lifecycle': unknown lifecycle stage 'customers' (hint: did you mean 'customer'?)"
    ]


def test_device_unknown_lists_the_devices():
    assert problems_of('[[rule]]\nwhen = { device = "phone" }\n') == [
        "rules.toml:2: rule 'r': when: 'device': unknown device 'phone' (hint: known: mobile, tablet, desktop, bot)"
    ]


def test_crm_segment_empty_name_is_refused():
    assert problems_of('[[rule]]\nwhen = { crm_segment = "" }\n') == [
        "rules.toml:2: rule 'r': when: 'crm_segment': a CRM segment cannot be empty"
    ]


def test_path_bad_regex_is_refused():
    assert problems_of("[[rule]]\nwhen = { path = '^/c/(' }\n") == [
        "rules.toml:2: rule 'r': when: 'path': invalid regular expression '^/c/(': missing ), unterminated subpattern at position 4"
    ]


def test_referrer_bad_regex_is_refused():
    assert problems_of("[[rule]]\nwhen = { referrer = { url = '[' } }\n") == [
        "rules.toml:2: rule 'r': when.referrer: 'url': invalid regular expression '[': unterminated character set at position 0"
    ]


def test_referrer_needs_host_or_url():
    assert problems_of("[[rule]]\nwhen = { referrer = {} }\n") == [
        "rules.toml:2: rule 'r': when.referrer: give 'host', 'url' or both (hint: e.g. referrer = { host = \"google.*\" })"
    ]


def test_query_value_type_is_checked():
    assert problems_of("[[rule]]\nwhen = { query = { page = 2 } }\n") == [
        "rules.toml:2: rule 'r': when.query: 'page' must be a value pattern, a list of them, or true/false for present/absent, not a whole number "
        '(hint: e.g. utm_campaign = "spring-*")'
    ]


def test_query_needs_a_parameter():
    assert problems_of("[[rule]]\nwhen = { query = {} }\n") == [
        "rules.toml:2: rule 'r': when.query: no query parameter given (hint: e.g. query = { utm_campaign = \"spring-*\" })"
    ]


def test_visits_needs_a_bound():
    assert problems_of("[[rule]]\nwhen = { visits = {} }\n") == [
        "rules.toml:2: rule 'r': when.visits: give 'min', 'max' or both (hint: e.g. visits = { min = 2 })"
    ]


def test_affinity_negative_min_is_refused():
    assert problems_of('[[rule]]\nwhen = { affinity = { category = "dogs", min = -1 } }\n') == [
        "rules.toml:2: rule 'r': when.affinity: 'min': must be 0 or more"
    ]


def test_purchased_window_and_count_must_be_positive():
    assert problems_of("[[rule]]\nwhen = { purchased = { within_days = 0, min_count = 0 } }\n") == [
        "rules.toml:2: rule 'r': when.purchased: 'within_days': must be more than 0",
        "rules.toml:2: rule 'r': when.purchased: 'min_count': must be at least 1",
    ]


def test_replenishment_unknown_sku_suggests_a_close_one():
    assert problems_of('[[rule]]\nwhen = { replenishment_due = { sku = "dog-kible" } }\n') == [
        "rules.toml:2: rule 'r': when.replenishment_due: 'sku': unknown product 'dog-kible' (hint: did you mean 'dog-kibble'?)"
    ]


def test_time_unknown_time_zone_suggests_a_close_one():
    assert problems_of('[[rule]]\nwhen = { time = { from = "09:00", timezone = "Europe/Amsterdm" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'timezone': unknown time zone 'Europe/Amsterdm' (hint: did you mean 'Europe/Amsterdam'?)"
    ]


def test_time_zone_path_is_refused():
    assert problems_of('[[rule]]\nwhen = { time = { from = "09:00", timezone = "../../etc/passwd" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'timezone': unknown time zone '../../etc/passwd' (hint: use an IANA time zone name such as 'Europe/Amsterdam')"
    ]


def test_time_needs_a_time_zone():
    assert problems_of('[[rule]]\nwhen = { time = { from = "09:00" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'timezone' is missing (hint: the shop's time zone, e.g. timezone = \"Europe/Amsterdam\")"
    ]


def test_time_bad_format_is_refused():
    assert problems_of('[[rule]]\nwhen = { time = { from = "6pm", to = "24:30", timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'from': '6pm' is not a time of day (hint: write hours and minutes, e.g. \"18:00\")",
        "rules.toml:2: rule 'r': when.time: 'to': '24:30' is not a time of day (hint: hours 00 to 23, minutes 00 to 59 (or \"24:00\" for the end of the day))",
    ]


def test_time_with_seconds_is_refused():
    assert problems_of('[[rule]]\nwhen = { time = { from = 18:00:30, timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'from': give hours and minutes only (hint: e.g. from = \"18:00\")"
    ]


def test_time_unknown_weekday_suggests_a_close_one():
    assert problems_of('[[rule]]\nwhen = { time = { days = ["sat", "zon"], timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'days': unknown weekday 'zon' (hint: did you mean 'mon'?)"
    ]


def test_time_weekday_listed_twice_is_refused():
    assert problems_of('[[rule]]\nwhen = { time = { days = ["sat", "Saturday"], timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: 'days': 'Saturday' is listed twice"
    ]


def test_time_needs_days_or_hours():
    assert problems_of('[[rule]]\nwhen = { time = { timezone = "UTC" } }\n') == [
        "rules.toml:2: rule 'r': when.time: give 'days', a 'from'/'to' time of day, or both "
        '(hint: e.g. time = { days = ["sat", "sun"], from = "18:00", to = "23:00", timezone = "Europe/Amsterdam" })'
    ]


def test_not_with_two_conditions_is_refused():
    assert problems_of('[[rule]]\nwhen = { not = { lifecycle = "prospect", device = "bot" } }\n') == [
        "rules.toml:2: rule 'r': when: 'not' takes one condition, not 2 "
        "(hint: for none of them write not = { any = [...] }; for not all of them write not = { all = [...] })"
    ]


def test_all_must_be_a_list():
    assert problems_of('[[rule]]\nwhen = { all = { device = "bot" } }\n') == [
        "rules.toml:2: rule 'r': when: 'all' must be a list of conditions, not a table (hint: e.g. all = [ { lifecycle = \"customer\" }, { device = \"mobile\" } ])"
    ]


def test_any_empty_is_refused():
    assert problems_of("[[rule]]\nwhen = { any = [] }\n") == [
        "rules.toml:2: rule 'r': when: 'any' is empty (hint: list at least one condition)"
    ]


def test_any_item_must_be_a_table():
    assert problems_of('[[rule]]\nwhen = { any = [ { device = "bot" }, "mobile" ] }\n') == [
        "rules.toml:2: rule 'r': when.any[1]: a condition must be a table, not a string (hint: e.g. { device = \"mobile\" })"
    ]


def test_dates_need_a_bound():
    assert problems_of("[[rule]]\nwhen = { dates = {} }\n") == [
        "rules.toml:2: rule 'r': when.dates: give 'from', 'until' or both (hint: e.g. dates = { from = 2026-03-01, until = 2026-04-30, timezone = \"Europe/Amsterdam\" })"
    ]


# -- segments ----------------------------------------------------------------------------------


def test_compile_segments_uses_segments_defined_later():
    text = '[segments.loyal]\nall = [ { segment = "buyers" }, { visits = { min = 5 } } ]\n[segments.buyers]\nlifecycle = ["customer", "repeat_customer"]\n'
    _, segments, problems = compile_file(text)
    assert problems == []
    assert list(segments) == ["loyal", "buyers"]
    assert segments["loyal"].describe() == "segment 'loyal'"
    assert segments["loyal"].condition.describe() == "segment 'buyers' and at least 5 visits"  # type: ignore[attr-defined]


def test_compile_segments_from_several_files_together():
    problems: list = []
    sections = []
    for name, text in (("a.toml", '[segments.a]\nsegment = "b"\n'), ("b.toml", '[segments.b]\ndevice = "bot"\n')):
        top = Fields(tomllib.loads(text), (), name, KeyLines(text), problems)
        sections.append(top.sub("segments", top.table["segments"]))
    segments = compile_segments(sections, SITE, CATALOG)
    assert problems == []
    assert verdict(segments["a"], visit(user_agent="curl/8")) == Verdict(True, "in segment 'a': in segment 'b': device is bot")


def test_compile_segments_refuses_a_segment_defined_twice():
    problems: list = []
    sections = []
    for name in ("a.toml", "b.toml"):
        text = '\n[segments.vip]\ncrm_segment = "vip"\n'
        top = Fields(tomllib.loads(text), (), name, KeyLines(text), problems)
        sections.append(top.sub("segments", top.table["segments"]))
    compile_segments(sections, SITE, CATALOG)
    assert [str(p) for p in problems] == ["b.toml:2: segment 'vip' is defined again (first at a.toml:2)"]


def test_segment_cycle_names_the_chain():
    text = '[segments.a]\nsegment = "b"\n[segments.b]\nall = [ { segment = "c" } ]\n[segments.c]\nany = [ { device = "bot" }, { segment = "a" } ]\n'
    assert problems_of(text) == [
        "rules.toml:6: segment 'c': any[1]: segment cycle a -> b -> c -> a (hint: a segment cannot use itself, directly or through other segments)"
    ]


def test_segment_using_itself_is_a_cycle():
    text = '[segments.a]\nnot = { segment = "a" }\n'
    assert problems_of(text) == [
        "rules.toml:2: segment 'a': not: segment cycle a -> a (hint: a segment cannot use itself, directly or through other segments)"
    ]


def test_segment_broken_causes_no_second_message():
    text = '[segments.a]\nlifecycle = "vip"\n[[rule]]\nwhen = { segment = "a" }\n'
    assert problems_of(text) == [
        "rules.toml:2: segment 'a': 'lifecycle': unknown lifecycle stage 'vip' (hint: known: prospect, customer, repeat_customer)"
    ]


def test_segment_unknown_suggests_a_close_name():
    text = DOG_LOVERS + '[[rule]]\nwhen = { segment = "dog-lover" }\n'
    assert problems_of(text) == ["rules.toml:8: rule 'r': when: unknown segment 'dog-lover' (hint: did you mean 'dog-lovers'?)"]


def test_segment_unknown_lists_the_defined_ones():
    text = DOG_LOVERS + '[[rule]]\nwhen = { segment = "vips" }\n'
    assert problems_of(text) == ["rules.toml:8: rule 'r': when: unknown segment 'vips' (hint: defined segments: dog-lovers)"]


def test_segment_unknown_without_segments_says_how_to_define_one():
    assert problems_of('[[rule]]\nwhen = { segment = "vips" }\n') == [
        "rules.toml:2: rule 'r': when: unknown segment 'vips' (hint: define it as a [segments.vips] table)"
    ]


def test_segment_name_must_be_a_slug():
    assert problems_of('[segments."Dog Lovers"]\ndevice = "mobile"\n') == [
        "rules.toml:1: segment name 'Dog Lovers' must be lower-case letters, digits, '-' or '_', starting with a letter or digit"
    ]


def test_segment_must_be_a_table():
    assert problems_of('[segments]\nvip = "vip"\n') == [
        "rules.toml:2: segment 'vip' must be a table of conditions, not a string (hint: write [segments.vip] with conditions below it, e.g. lifecycle = \"customer\")"
    ]


def test_segment_problems_in_a_multiline_table_point_at_the_list():
    text = '[segments.dog-lovers]\nall = [\n  { affinity = { category = "dgos", min = 2 } },\n  { visits = { min = "2" } },\n]\n'
    assert problems_of(text) == [
        "rules.toml:2: segment 'dog-lovers': all[0].affinity: 'category': unknown category 'dgos' (hint: did you mean 'dogs'?)",
        "rules.toml:2: segment 'dog-lovers': all[1].visits: 'min' must be a whole number, not a string",
    ]
