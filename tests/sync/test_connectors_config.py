"""The config accepts each HTTP connector kind in a flow and names the key of a wrong action."""

from __future__ import annotations

import pytest

from services.assembly import parse_settings
from services.common.errors import ConfigError

TARGETS = {
    "hubspot": ('kind = "hubspot"\nsecret_env = "HS_TOKEN"\n', "contact.submitted",
                "create_task"),
    "pipedrive": ('kind = "pipedrive"\nsecret = "t"\ncompany_domain = "acme"\n',
                  "contact.submitted", "create_activity"),
    "moneybird": ('kind = "moneybird"\nsecret = "t"\nadministration_id = "1"\n'
                  'tax_rates = {"21" = "9", "9.0" = "8"}\n', "order.created",
                  "create_sales_invoice"),
    "http": ('kind = "http"\nurl = "https://example.com/{{ event.type }}"\n'
             'body = \'{"id": {{ event.id|tojson }}}\'\n', "order.created", "send"),
}


def config(kind: str, action: str | None = None) -> str:
    """A config with one target of `kind` and one flow using it."""
    target, on, default_action = TARGETS[kind]
    return (f"[targets.crm]\n{target}\n[[flows]]\nname = \"f\"\non = \"{on}\"\n"
            f"[[flows.actions]]\ntarget = \"crm\"\naction = \"{action or default_action}\"\n")


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_config_with_each_kind_loads(kind: str) -> None:
    settings = parse_settings(config(kind), env={"HS_TOKEN": "secret-token"})
    assert settings.targets["crm"].kind == kind


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_unknown_action_is_rejected_naming_the_key(kind: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(config(kind, "frobnicate"), env={"HS_TOKEN": "x"})
    assert info.value.path == "flows[0].actions[0].action"
    assert "frobnicate" in info.value.message


def test_unknown_target_key_is_rejected() -> None:
    text = config("pipedrive").replace('company_domain = "acme"', 'company_domian = "acme"')
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env={})
    assert info.value.path == "targets.crm.company_domian"


def test_invoice_action_on_a_contact_event_is_rejected() -> None:
    text = config("moneybird").replace("order.created", "contact.submitted")
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env={})
    assert info.value.path == "flows[0].actions[0].action"


def test_a_negative_http_timeout_is_rejected_naming_the_key() -> None:
    text = config("http").replace('kind = "http"\n', 'kind = "http"\ntimeout_s = -1\n')
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env={})
    assert info.value.path.startswith("targets.crm")
    assert "timeout_s" in info.value.message


@pytest.mark.parametrize(("kind", "line", "key", "says"), [
    ("hubspot", "timeout_s = -1", "timeout_s", "must be at least 0 (got -1)"),
    ("pipedrive", "timeout_s = -0.5", "timeout_s", "must be at least 0 (got -0.5)"),
    ("moneybird", "rate_limit = 0", "rate_limit", "must be at least 1 (got 0)"),
    ("moneybird", "rate_window_s = 0", "rate_window_s", "must be more than 0 (got 0)"),
])
def test_a_target_setting_out_of_range_is_refused_naming_the_key(kind: str, line: str, key: str, says: str) -> None:
    target = TARGETS[kind][0]
    text = config(kind).replace(target, f"{target}{line}\n")
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env={"HS_TOKEN": "x"})
    assert (info.value.path, info.value.message) == (f"targets.crm.{key}", says)


@pytest.mark.parametrize(("line", "key", "says"), [
    ("port = 70000", "port", "must be at most 65535 (got 70000)"),
    ("timeout_s = 0", "timeout_s", "must be more than 0 (got 0)"),
])
def test_an_smtp_target_out_of_range_is_refused_naming_the_key(line: str, key: str, says: str) -> None:
    text = (f'[targets.mail]\nkind = "smtp"\n{line}\n'
            '[[flows]]\nname = "f"\non = "contact.submitted"\n[[flows.actions]]\ntarget = "mail"\naction = "send"\n')
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env={})
    assert (info.value.path, info.value.message) == (f"targets.mail.{key}", says)
