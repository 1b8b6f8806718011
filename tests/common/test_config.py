"""`handover check` and the config loader: a broken config is refused with the key path that is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.common.config import load_settings, parse_settings
from services.common.errors import ConfigError
from services.common.secrets import Secret

BASE = """
[sources.website]
kind = "form"
[targets.crm]
kind = "file"
[targets.mail]
kind = "maildir"
"""


def flow(on: str, action: str, target: str = "crm", extra: str = "", cond: str = "") -> str:
    return (
        f'[[flows]]\nname = "f"\non = "{on}"\n' + (f"if = '{cond}'\n" if cond else "")
        + f'[[flows.actions]]\ntarget = "{target}"\naction = "{action}"\n{extra}'
    )


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ('[targets.crm]\nkind = "hubspott"', "targets.crm.kind", "unknown kind 'hubspott'; known: "),
        ('[sources.shop]\nkind = "shopify"', "sources.shop.secret", "needs `secret`"),
        ("[server]\nport = 'eighty'", "server.port", "Expected `int`"),
        ("[kafka]\npartitons = 3", "kafka.partitons", "unknown key"),
        (BASE + flow("contact.submitted", "send_email", target="nowhere"), "flows[0].actions[0].target",
         "unknown target 'nowhere'"),
        (BASE + flow("contact.submitted", "shout", target="mail"), "flows[0].actions[0].action",
         "unknown action 'shout' for a maildir target"),
        (BASE + flow("contact.submited", "x"), "flows[0].on", "unknown event type 'contact.submited'"),
        (BASE + flow("contact.submitted", "x", extra='fields = { a = "{{ contact.emial }}" }'),
         "flows[0].actions[0].fields.a", "has no field 'contact.emial'"),
        (BASE + flow("order.created", "x", extra='fields = { a = "{{ order.lines[0].sku }} {{ ordr.total }}" }'),
         "flows[0].actions[0].fields.a", "unknown name 'ordr'"),
        (BASE + flow("order.created", "x", cond="order.totl >= 100"), "flows[0].if", "has no field 'order.totl'"),
        (BASE + flow("order.created", "x", cond="order.total >= "), "flows[0].if", "cannot parse condition"),
        (BASE + flow("order.created", "x", cond='__import__("os").system("id")'), "flows[0].if", "is not allowed"),
        (BASE + flow("order.created", "x", extra='fields = { a = "{{ order.total" }'),
         "flows[0].actions[0].fields.a", "template error"),
        (BASE + flow("contact.submitted", "send_email", target="mail", extra="minutes_saved = -3"),
         "flows[0].actions[0].minutes_saved", "between 0 and 1440"),
        ('[sources.shop]\nkind = "shopify"\nsecret_env = "NOPE_NOT_SET"', "sources.shop.secret_env", "NOPE_NOT_SET"),
        ('[targets.crm]\nkind = "hubspot"', "targets.crm.secret", "needs its API token"),
    ],
    ids=[
        "unknown-target-kind", "signed-source-without-secret", "wrong-type", "unknown-key", "unknown-target",
        "unknown-action", "unknown-event-type", "unknown-field", "unknown-root", "condition-unknown-field",
        "condition-syntax", "condition-not-allowed", "template-syntax", "minutes-out-of-range", "missing-env",
        "token-missing",
    ],
)
def test_a_broken_config_names_the_key_and_why(text: str, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(text, env={})
    assert err.value.path == path
    assert words in err.value.message
    assert str(err.value).startswith(f"{path}: ")


def test_handover_check_prints_the_key_path_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "handover.toml"
    config.write_text('[targets.crm]\nkind = "hubspott"\n')
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "check", "--config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "targets.crm.kind: unknown kind 'hubspott'; known: " in result.stderr
    assert "hubspot" in result.stderr and "smtp" in result.stderr


def test_handover_check_accepts_the_built_in_demo_and_says_what_it_does() -> None:
    result = subprocess.run([sys.executable, "-m", "services.cli", "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "flow 'Contact form to CRM': on contact.submitted" in result.stdout


def test_environment_overrides_and_secrets_from_named_variables() -> None:
    text = '[kafka]\nbootstrap_servers = "a:9092"\n[sources.shop]\nkind = "shopify"\nsecret_env = "SHOP_SECRET"\n' \
           'secrets = ["old-secret"]\n'
    settings = parse_settings(text, env={"HANDOVER_KAFKA_BOOTSTRAP_SERVERS": "b:9092", "SHOP_SECRET": "s3cret",
                                         "HANDOVER_SERVER_PORT": "9000"})
    assert settings.kafka.bootstrap_servers == "b:9092"
    assert settings.server.port == 9000
    shop = settings.sources["shop"]
    assert shop.secrets == (Secret("s3cret"), Secret("old-secret"))  # both active: rotation
    assert "s3cret" not in repr(settings) and "old-secret" not in repr(shop.secrets)


def test_settings_are_frozen() -> None:
    settings = load_settings(None)
    with pytest.raises(AttributeError):
        settings.server.port = 1  # type: ignore[misc]
