import pytest

from etalage.html.templates import TemplateError, compile_template

NAMES = frozenset({"category", "url"})
ATTACK = '"><script>alert(1)</script>'


def test_templates_escape_values_in_text():
    template = compile_template("t.html", "<p>{{ category }}</p>", NAMES)
    assert template.render({"category": ATTACK}) == "<p>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_templates_escape_values_in_attributes():
    template = compile_template("t.html", "<p title='{{ category }}'>x</p>", NAMES)
    assert "'" not in template.render({"category": "a'b"}).removeprefix("<p title='").removesuffix("'>x</p>")


def test_templates_neutralise_script_urls():
    template = compile_template("t.html", '<a href="{{ url }}">x</a>', NAMES)
    assert template.render({"url": "javascript:alert(1)"}) == '<a href="#">x</a>'


def test_templates_neutralise_script_urls_in_namespaced_link_attributes():
    template = compile_template("t.html", '<svg><a xlink:href="{{ url }}"><text>x</text></a></svg>', NAMES)
    assert template.render({"url": "javascript:alert(1)"}) == '<svg><a xlink:href="#"><text>x</text></a></svg>'


@pytest.mark.parametrize(
    "url", ["//evil.example/login", "/\\evil.example/login", "\\\\evil.example", "/\t/evil.example", " //evil.example"]
)
def test_templates_neutralise_urls_browsers_read_as_another_site(url):
    template = compile_template("t.html", '<a href="{{ url }}">x</a>', NAMES)
    assert template.render({"url": url}) == '<a href="#">x</a>'


def test_templates_keep_relative_and_http_urls():
    template = compile_template("t.html", '<a href="{{ url }}">x</a>', NAMES)
    assert template.render({"url": "/c/dogs?a=1&b=2"}) == '<a href="/c/dogs?a=1&amp;b=2">x</a>'


@pytest.mark.parametrize(
    "source",
    [
        "<{{ category }}>",
        "<a href={{ url }}>",
        "<a {{ category }}>",
        "<script>var c = '{{ category }}'</script>",
        "<style>.{{ category }}{}</style>",
    ],
)
def test_templates_refuse_placeholders_outside_text_and_quoted_attributes(source):
    with pytest.raises(TemplateError):
        compile_template("t.html", source, NAMES)


def test_templates_refuse_unknown_names_with_the_line():
    with pytest.raises(TemplateError) as caught:
        compile_template("t.html", "<p>\n{{ catgory }}</p>", NAMES)
    assert caught.value.line == 2 and "catgory" in str(caught.value)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("<p>Shop {{category}</p>", 1),
        ("<p>\nShop {category}}</p>", 2),
        ("<p>{{ url }}</p>\n<p>Shop { category }</p>", 2),
        ("<p>Shop {{</p>", 1),
    ],
)
def test_templates_refuse_broken_placeholders_with_the_line(source, line):
    # They would reach the visitor as written: "Shop {{category}".
    with pytest.raises(TemplateError) as caught:
        compile_template("t.html", source, NAMES)
    assert caught.value.line == line and "{{ " in str(caught.value)


def test_templates_keep_braces_that_name_no_value():
    template = compile_template("t.html", "<style>.x { color: red }</style><p>{ note } {{ category }}</p>", NAMES)
    assert template.render({"category": "Dogs"}) == "<style>.x { color: red }</style><p>{ note } Dogs</p>"


def test_templates_check_urls_after_a_quoted_value_holding_a_greater_than_sign():
    template = compile_template("t.html", '<a title="x>y" href="{{ url }}">x</a>', NAMES)
    assert template.render({"url": "javascript:alert(1)"}) == '<a title="x>y" href="#">x</a>'


def test_templates_see_an_attribute_after_a_quoted_value_holding_a_less_than_sign():
    template = compile_template("t.html", "<p title='a<b' data-x=\"{{ category }}\">x</p>", NAMES)
    assert template.render({"category": 'q"'}) == "<p title='a<b' data-x=\"q&quot;\">x</p>"


def test_templates_skip_comments_and_closed_scripts_before_a_placeholder():
    source = "<!-- <a href=' --><script>if (a < b) {}</script><p>{{ category }}</p>"
    assert compile_template("t.html", source, NAMES).render({"category": "<b>"}).endswith("<p>&lt;b&gt;</p>")


@pytest.mark.parametrize(
    "source",
    [
        "<a onclick=\"go('{{ category }}')\">x</a>",
        '<p style="color: {{ category }}">x</p>',
        '<iframe srcdoc="{{ category }}"></iframe>',
        "</{{ category }}>",
        "<p>x</p><{{ category }}",
        "<textarea>{{ category }}",
        "<!-- {{ category }}",
        '<a href="/x" {{ category }}>',
    ],
)
def test_templates_refuse_placeholders_in_code_attributes_tag_names_raw_text_and_comments(source):
    with pytest.raises(TemplateError):
        compile_template("t.html", source, NAMES)


@pytest.mark.parametrize(
    "source",
    [
        '<svg><a><set attributeName="href" to="{{ url }}"/><text>x</text></a></svg>',
        '<svg><a><animate attributeName="href" values="{{ url }}"/><text>x</text></a></svg>',
        '<svg><animate attributeName="href" from="{{ url }}" by="x"/></svg>',
        '<script src="{{ url }}"></script>',
        '<script type="module" data-x="{{ category }}"></script>',
        '<base href="{{ url }}">',
    ],
)
def test_templates_refuse_placeholders_in_animation_values_and_script_or_base_attributes(source):
    with pytest.raises(TemplateError):
        compile_template("t.html", source, NAMES)
