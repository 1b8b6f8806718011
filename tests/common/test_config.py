"""`handover check` and the config loader: a broken config is refused with the key path that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.assembly import load_settings, parse_settings
from services.common.errors import ConfigError
from services.common.secrets import Secret
from tests.conftest import HandoverCheck

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


def test_handover_check_prints_the_key_path_and_exits_2(handover_check: HandoverCheck) -> None:
    result = handover_check('[targets.crm]\nkind = "hubspott"\n')
    assert result.returncode == 2
    assert "targets.crm.kind: unknown kind 'hubspott'; known: " in result.stderr
    assert "hubspot" in result.stderr and "smtp" in result.stderr


def test_handover_check_accepts_the_built_in_demo_and_says_what_it_does(handover_check: HandoverCheck) -> None:
    result = handover_check(None)
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


# A value that decodes fine but would crash, hang or quietly misbehave at run time is refused
# at load, so `handover check` catches it.
@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        pytest.param('[ledger]\nurl = "mysql://u:pw@db/x"', "ledger.url",
                     "unsupported database URL (scheme 'mysql'); use sqlite:///", id="ledger-scheme"),
        pytest.param('[ledger]\nurl = "var/handover.db"', "ledger.url", "(no scheme)", id="ledger-path-only"),
        pytest.param("[sync]\nconcurrency = 0", "sync.concurrency", "must be at least 1 (got 0)", id="concurrency"),
        pytest.param("[sync]\nmax_attempts = 0", "sync.max_attempts", "at least 1", id="max-attempts"),
        pytest.param("[sync]\npermanent_attempts = 0", "sync.permanent_attempts", "at least 1", id="permanent"),
        pytest.param("[sync]\nbreaker_threshold = 0", "sync.breaker_threshold", "at least 1", id="breaker"),
        pytest.param("[sync]\nbackoff_initial_s = 0", "sync.backoff_initial_s", "must be more than 0 (got 0)",
                     id="backoff-initial"),
        pytest.param("[sync]\nbackoff_max_s = -1.5", "sync.backoff_max_s", "more than 0 (got -1.5)", id="backoff-max"),
        pytest.param("[sync]\ndelivery_timeout_s = 0", "sync.delivery_timeout_s", "more than 0", id="delivery-timeout"),
        pytest.param("[sync]\nbreaker_probe_s = 0", "sync.breaker_probe_s", "more than 0", id="breaker-probe"),
        pytest.param("[sync]\ncommit_interval_s = -1", "sync.commit_interval_s", "at least 0 (got -1)",
                     id="commit-interval"),
        pytest.param("[server]\nport = 70000", "server.port", "must be at most 65535 (got 70000)", id="port-high"),
        pytest.param("[server]\nport = -1", "server.port", "must be at least 0 (got -1)", id="port-negative"),
        pytest.param("[kafka]\npartitions = 0", "kafka.partitions", "at least 1", id="partitions"),
        pytest.param("[kafka]\nreplication_factor = 0", "kafka.replication_factor", "at least 1", id="replication"),
        pytest.param("[kafka]\nfetch_max_wait_ms = -1", "kafka.fetch_max_wait_ms", "at least 0", id="fetch-wait"),
        pytest.param("[kafka]\nsession_timeout_ms = 0", "kafka.session_timeout_ms", "at least 1", id="session"),
        pytest.param("[kafka]\nmetadata_max_age_ms = 0", "kafka.metadata_max_age_ms", "at least 1", id="metadata"),
        pytest.param("[kafka]\npublish_timeout_s = 0", "kafka.publish_timeout_s", "more than 0", id="publish-timeout"),
        pytest.param("[kafka]\nsession_timeout_ms = 6000\nheartbeat_interval_ms = 6000", "kafka.heartbeat_interval_ms",
                     "must be less than kafka.session_timeout_ms (6000; got 6000)", id="heartbeat-vs-session"),
        pytest.param("[web]\nhandoff_after_s = -1", "web.handoff_after_s", "at least 0", id="handoff-after"),
        pytest.param('[sources.website]\nkind = "form"\nmax_body_bytes = 0', "sources.website.max_body_bytes",
                     "must be at least 1 (got 0)", id="max-body"),
        pytest.param('[sources.website]\nkind = "form"\nrate_limit_per_minute = -1',
                     "sources.website.rate_limit_per_minute", "must be at least 0 (got -1)", id="rate-limit"),
        pytest.param('[sources.pay]\nkind = "stripe"\nsecret = "s"\ndedupe_window_hours = 0',
                     "sources.pay.dedupe_window_hours", "must be more than 0 (got 0)", id="dedupe-window"),
        pytest.param('[logging]\nlevel = "verbose"', "logging.level",
                     "must be one of debug, info, warning, error, critical (got 'verbose')", id="log-level"),
        pytest.param('[logging]\nformat = "xml"', "logging.format", "must be one of auto, json, console (got 'xml')",
                     id="log-format"),
        pytest.param('[logging]\nformat = "JSON"', "logging.format", "(got 'JSON')", id="log-format-case"),
    ],
)
def test_a_value_that_would_break_the_run_is_refused_naming_the_key(text: str, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(text, env={})
    assert err.value.path == path
    assert words in err.value.message
    assert str(err.value).startswith(f"{path}: ")


def test_a_bad_value_from_the_environment_is_refused_too() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings("", env={"HANDOVER_SYNC_CONCURRENCY": "0"})
    assert str(err.value) == "sync.concurrency: must be at least 1 (got 0)"


def test_the_ledger_url_error_does_not_echo_a_password() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings('[ledger]\nurl = "mysql://handover:hunter2@db/x"', env={})
    assert "hunter2" not in str(err.value)


def test_edge_values_the_product_uses_still_load() -> None:
    settings = parse_settings(
        """
        [server]
        port = 0            # any free port (tests)
        [kafka]
        partitions = 1
        replication_factor = 1
        fetch_max_wait_ms = 0
        session_timeout_ms = 6000
        heartbeat_interval_ms = 1000
        publish_timeout_s = 0.5
        [ledger]
        url = "sqlite:///:memory:"
        [logging]
        level = "DEBUG"
        format = "console"
        [web]
        handoff_after_s = 0
        [sync]
        max_attempts = 1
        permanent_attempts = 1
        concurrency = 1
        breaker_threshold = 1
        backoff_initial_s = 0.05
        backoff_max_s = 0.2
        delivery_timeout_s = 0.3
        breaker_probe_s = 0.5
        commit_interval_s = 0
        [sources.website]
        kind = "form"
        max_body_bytes = 1
        rate_limit_per_minute = 0   # unlimited
        dedupe_window_hours = 0.5
        [sources.pay]
        kind = "stripe"
        secret = "whsec_s"
        tolerance_s = 0             # no timestamp check
        """,
        env={},
    )
    assert settings.server.port == 0 and settings.sync.concurrency == 1
    assert settings.sources["website"].config.rate_limit_per_minute == 0
    assert parse_settings("[server]\nport = 65535", env={}).server.port == 65535


@pytest.mark.parametrize(
    "url",
    ["sqlite:///var/handover.db", "sqlite:////srv/handover.db", "sqlite:///:memory:",
     "postgresql://handover:pw@postgres:5432/handover?schema=t1", "postgres://localhost/handover"],
)
def test_every_ledger_url_form_the_ledger_opens_is_accepted(url: str) -> None:
    assert parse_settings(f'[ledger]\nurl = "{url}"', env={}).ledger.url == url


@pytest.mark.parametrize(("level", "fmt"), [("info", "auto"), ("Warning", "json"), ("error", "console"),
                                            ("CRITICAL", "auto"), ("debug", "json")])
def test_documented_log_levels_in_any_case_and_formats_load(level: str, fmt: str) -> None:
    settings = parse_settings(f'[logging]\nlevel = "{level}"\nformat = "{fmt}"', env={})
    assert (settings.logging.level, settings.logging.format) == (level, fmt)


@pytest.mark.parametrize(
    ("text", "path", "hint", "known"),
    [
        ('[sources.shop]\nkind = "shopify"\nsecert = "x"', "sources.shop.secert", "did you mean 'secret'?",
         "known keys: client_rate_limit_per_minute, dedupe_window_hours, kind, max_body_bytes, rate_limit_per_minute, "
         "secret, secret_env, secrets"),
        ("[kafka]\npartitons = 3", "kafka.partitons", "did you mean 'partitions'?", "bootstrap_servers, client_id"),
        ("[sever]\nport = 1", "sever", "did you mean 'server'?", "flows, kafka, ledger, logging, notify, server"),
        (BASE + flow("contact.submitted", "upsert_contact", extra="minutes_save = 3"),
         "flows[0].actions[0].minutes_save", "did you mean 'minutes_saved'?", "known keys: action, fields, "),
        ("[sync]\nzzz = 1", "sync.zzz", "", "known keys: backoff_initial_s, backoff_max_s, breaker_probe_s"),
    ],
    ids=["source", "section", "root", "flow-action", "no-close-match"],
)
def test_an_unknown_key_gets_a_suggestion_and_the_known_keys(text: str, path: str, hint: str, known: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(text, env={})
    assert err.value.path == path
    assert err.value.message.startswith("unknown key; ")
    if hint:
        assert hint in err.value.message
    else:
        assert "did you mean" not in err.value.message
    assert known in err.value.message


def test_handover_check_refuses_an_unsupported_ledger_without_a_traceback(handover_check: HandoverCheck) -> None:
    result = handover_check('[ledger]\nurl = "mysql://x"\n')
    assert result.returncode == 2
    assert "ledger.url: unsupported database URL (scheme 'mysql')" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("table", "env", "path", "says"), [
    ('[sources.woo]\nkind = "woocommerce"\nsecret_env = "WOO"', {"WOO": ""}, "sources.woo.secret_env",
     "environment variable WOO is empty"),
    ('[sources.woo]\nkind = "woocommerce"\nsecrets = ["k1", " "]', {}, "sources.woo.secrets[1]",
     "is empty; remove it or give the secret"),
    ('[sources.woo]\nkind = "woocommerce"\nsecret = "  "', {}, "sources.woo.secret", "is blank"),
    ('[web]\nadmin_password_env = "PW"', {"PW": ""}, "web.admin_password_env", "environment variable PW is empty"),
])
def test_an_empty_secret_is_refused_not_taken_as_a_key_anyone_can_sign_with(
    table: str, env: dict[str, str], path: str, says: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(table, env=env)
    assert (err.value.path, err.value.message) == (path, says)


@pytest.mark.parametrize(("secret", "looks"), [("sk_test_123", "an API key"), ("hunter2", "something else")])
def test_a_stripe_secret_that_is_not_a_signing_secret_is_refused(secret: str, looks: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(f'[sources.pay]\nkind = "stripe"\nsecret = "{secret}"', env={})
    assert err.value.path == "sources.pay.secret"
    assert "starts with whsec_" in err.value.message and f"this looks like {looks}" in err.value.message
    assert secret not in err.value.message  # never echo a secret


def test_data_dir_moves_the_default_ledger_and_an_explicit_url_stays() -> None:
    assert parse_settings('data_dir = "/srv/handover"', env={}).ledger.url == "sqlite:////srv/handover/handover.db"
    assert parse_settings("", env={}).ledger.url == "sqlite:///var/handover.db"  # the default data_dir
    text = 'data_dir = "/srv/handover"\n[ledger]\nurl = "sqlite:///:memory:"'
    assert parse_settings(text, env={}).ledger.url == "sqlite:///:memory:"


def test_the_flows_are_compiled_once_and_every_consumer_of_them_shares_that_set() -> None:
    """The sync workers (like the recorder and replay) run the compiled flows `services.assembly`
    made while checking the config, not a compilation of their own (one per part, before)."""
    import msgspec

    from services.common.metrics import Metrics
    from services.flows.compile import CompiledFlow
    from services.sync.runner import SyncService

    settings = parse_settings(BASE + flow("contact.submitted", "append"), env={})
    [compiled] = settings.compiled_flows
    assert isinstance(compiled, CompiledFlow) and compiled.config is settings.flows[0]
    assert SyncService(settings, Metrics()).flows == [compiled]
    assert SyncService(settings, Metrics()).flows[0] is compiled
    # A copy with another Kafka address (what `handover run` makes for its embedded broker) keeps them.
    moved = msgspec.structs.replace(settings, kafka=msgspec.structs.replace(settings.kafka, bootstrap_servers="x:1"))
    assert moved.compiled_flows[0] is compiled
    assert SyncService(moved, Metrics()).flows[0] is compiled


def test_the_config_module_decodes_sections_without_knowing_any_kind() -> None:
    """services.common.config leaves [sources.*] and [targets.*] raw: the kinds are assembled above it."""
    from services.common.config import decode_raw

    raw = decode_raw('[sources.w]\nkind = "no-such-kind"\nsecret = "s"\n[kafka]\npartitions = 3', env={})
    assert raw.sources == {"w": {"kind": "no-such-kind", "secret": "s"}} and raw.kafka.partitions == 3
    with pytest.raises(ConfigError, match=r"sources\.w\.kind: unknown kind 'no-such-kind'; known: .*form"):
        parse_settings('[sources.w]\nkind = "no-such-kind"\nsecret = "s"', env={})


def test_a_typo_inside_an_optional_table_is_named_with_a_suggestion() -> None:
    """A key misspelt in `[sources.<name>.captcha]` (an optional table) is a ConfigError naming
    it, as anywhere else; it used to crash `handover check` with a TypeError."""
    text = '[sources.w]\nkind = "form"\ncaptcha = { provider = "hcaptcha", secrett = "x" }'
    with pytest.raises(ConfigError) as refused:
        parse_settings(text, env={})
    assert refused.value.path == "sources.w.captcha.secrett"
    assert "did you mean 'secret'?" in refused.value.message


PLUGIN = '''
from typing import Annotated, ClassVar

from services.common.config import TargetConfig, about
from services.sync.connectors.base import Connector


class LedgerBookConfig(TargetConfig, frozen=True, kw_only=True):
    """Where the book is kept."""

    book: Annotated[str, about("The book's name.", "sales")]


class LedgerBook(Connector):
    """Writes each action into a paper ledger (a plug-in from another package)."""

    kind: ClassVar[str] = "ledgerbook"
    Config = LedgerBookConfig
    actions = None
'''


def test_an_installed_package_adds_a_target_kind_through_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A third-party connector is found by its `handover.connectors` entry point: the config
    takes its kind and its keys, and `handover check --explain` describes them."""
    from services.cli import main
    from services.sync.connectors import CONNECTOR_KINDS, connector_kinds

    (tmp_path / "handover_ledgerbook.py").write_text(PLUGIN)
    dist = tmp_path / "handover_ledgerbook-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: handover-ledgerbook\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[handover.connectors]\nledgerbook = handover_ledgerbook:LedgerBook\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    connector_kinds.cache_clear()
    try:
        text = '[targets.paper]\nkind = "ledgerbook"\nbook = "sales"\n' + flow("contact.submitted", "note", "paper")
        settings = parse_settings(text, env={})
        assert settings.targets["paper"].config.book == "sales"  # type: ignore[attr-defined]
        with pytest.raises(ConfigError, match=r"targets\.paper\.book: required key is missing"):
            parse_settings('[targets.paper]\nkind = "ledgerbook"\n', env={})
        assert main(["check", "--explain", "ledgerbook"]) == 0
        assert "  book: string, required\n      The book's name." in capsys.readouterr().out
        assert "ledgerbook" not in CONNECTOR_KINDS  # the built-in registry stays as written
    finally:
        connector_kinds.cache_clear()  # later tests look again, without the plug-in on the path
