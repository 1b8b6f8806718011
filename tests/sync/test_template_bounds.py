"""Templates do bounded work: a config that asks for a 100,000-digit number or 100 MB of text
is a config error naming the key (never a traceback), and the same built from event data at
run time is a Permanent failure of that one action, quickly."""

from __future__ import annotations

import time

import pytest

from services.assembly import parse_settings
from services.common.errors import ConfigError
from services.flows.context import event_context
from services.sync.errors import Permanent
from tests.conftest import HandoverCheck
from tests.sync.conftest import contact_event


def config(template: str) -> str:
    return f"""
[sources.website]
kind = "form"
[targets.crm]
kind = "file"
[[flows]]
name = "x"
on = "contact.submitted"
[[flows.actions]]
target = "crm"
action = "upsert_contact"
fields = {{ email = "{template}" }}
"""


HUGE_CONSTANTS = [
    "{{ 10 ** 100000 }}",
    "{{ 'a' * 100000000 }}",
    "{{ [1] * 100000000 }}",
    "{{ '%0100000000d' % 1 }}",
    "{{ 9 ** (9 ** 9) }}",
]


@pytest.mark.parametrize("template", HUGE_CONSTANTS)
def test_handover_check_names_the_key_of_a_template_asking_for_too_much(
    handover_check: HandoverCheck, template: str
) -> None:
    done = handover_check(config(template))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "flows[0].actions[0].fields.email" in done.stderr + done.stdout


@pytest.mark.parametrize("template", HUGE_CONSTANTS)
def test_parse_settings_raises_a_config_error(template: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(config(template), env={})
    assert err.value.path == "flows[0].actions[0].fields.email"


@pytest.mark.parametrize("template", [
    "{{ contact.message * 100000000 }}",
    "{{ contact.message|center(100000000) }}",
    "{{ contact.message|indent(100000000, true) }}",
    "{{ '%0100000000d'|format(contact.message|length) }}",
    "{{ 10 ** (contact.message|length * 100000) }}",
    "{{ (contact.message ~ contact.message) * 60000 }}",
])
def test_the_same_from_event_data_is_a_quick_permanent_failure(template: str) -> None:
    [flow] = parse_settings(config(template), env={}).compiled_flows
    started = time.perf_counter()
    with pytest.raises(Permanent, match="'email'"):
        flow.actions[0].render(event_context(contact_event()))
    assert time.perf_counter() - started < 1.0


def test_ordinary_templates_still_render() -> None:
    text = config("{{ '%s <%s>' % (contact.first_name, contact.email) }} 1234567 {{ 2 ** 10 }} {{ 'ab' * 3 }}")
    [flow] = parse_settings(text, env={}).compiled_flows
    out = flow.actions[0].render(event_context(contact_event()))
    assert out["email"] == "Zoë <zoe@example.nl> 1234567 1024 ababab"
