"""The canned replies' placeholder renderer, without a database: only listed names, never
str.format's attribute access, indexes or format specs."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.service.macros import PLACEHOLDERS, MacroInvalid, check_body, render_body

VALUES = {name: f"<{name}>" for name in PLACEHOLDERS}


@pytest.mark.parametrize("body, expected", [
    ("Hello {first_name}, case {case_number}.", "Hello <first_name>, case <case_number>."),
    ("{agent_name}{issue_type}{sla_due}", "<agent_name><issue_type><sla_due>"),
    ("Braces: {{first_name}} and }}{{", "Braces: {first_name} and }{"),
    ("{{{first_name}}}", "{<first_name>}"),
    ("No placeholders at all.", "No placeholders at all."),
    ("", ""),
])
def test_listed_placeholders_are_filled_in(body, expected):
    assert render_body(body, VALUES) == expected


@pytest.mark.parametrize("body, why", [
    ("Your link: {tracking_link}", "Unknown placeholder {tracking_link}"),
    ("{first_name.__class__}", "Unknown placeholder {first_name.__class__}"),
    ("{first_name[0]}", "Unknown placeholder {first_name[0]}"),
    ("{first_name!r}", "Unknown placeholder {first_name!r}"),
    ("{case_number:>99999999}", "Unknown placeholder {case_number:>99999999}"),
    ("{}", "Unknown placeholder {}"),
    ("{0}", "Unknown placeholder {0}"),
    ("{ first_name }", "Unknown placeholder { first_name }"),
    ("{FIRST_NAME}", "Unknown placeholder {FIRST_NAME}"),
    ("Hello {first_name", "A lone “{” at character 7"),
    ("Hello first_name}", "A lone “}” at character 17"),
    ("{{first_name}", "A lone “}”"),
])
def test_anything_else_in_braces_is_refused_with_why(body, why):
    with pytest.raises(MacroInvalid, match=re.escape(why)) as refused:
        check_body(body)
    assert refused.value.field == "body"
    with pytest.raises(MacroInvalid):
        render_body(body, VALUES)


def test_a_long_unknown_name_is_shortened_in_the_message():
    with pytest.raises(MacroInvalid) as refused:
        check_body("{" + "x" * 500 + "}")
    assert len(str(refused.value)) < 300


@given(st.text(max_size=300))
def test_any_body_renders_or_is_refused_and_nothing_else(body):
    try:
        text = render_body(body, VALUES)
    except MacroInvalid as err:
        assert str(err)
        return
    # What came out: the body with each placeholder and brace pair replaced, nothing more.
    expected = re.sub(r"\{\{|\}\}|\{(\w+)\}",
                      lambda m: VALUES[m.group(1)] if m.group(1) else m.group(0)[0], body)
    assert text == expected


HOSTILE = st.one_of(
    st.sampled_from(["{first_name.__init__.__globals__}", "{case_number.__class__.__mro__}",
                     "{agent_name[0]}", "{sla_due:%Y}", "{issue_type!s:^1000000}",
                     "{__import__}", "{config}", "{tracking_link}", "{0.__dict__}",
                     "{first_name:{case_number}}"]),
    st.builds(lambda name, tail: "{" + name + tail + "}",
              st.sampled_from(list(PLACEHOLDERS)),
              st.text(alphabet=".[]!:0123456789_ars<>^%", min_size=1, max_size=20)),
)


NO_BRACES = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=40)


@given(NO_BRACES, HOSTILE, NO_BRACES)
def test_format_tricks_are_refused_wherever_they_stand(before, trick, after):
    with pytest.raises(MacroInvalid):
        check_body(before + trick + after)


@given(st.lists(st.sampled_from([*("{" + n + "}" for n in PLACEHOLDERS), "{{", "}}", "text ",
                                 "ü", "\n"]), max_size=30))
def test_well_formed_bodies_always_render(parts):
    body = "".join(parts)
    check_body(body)
    text = render_body(body, VALUES)
    assert len(text) <= len(body) * max(len(v) for v in VALUES.values())
