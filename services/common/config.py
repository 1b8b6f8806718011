"""Settings: one TOML file decoded into frozen msgspec Structs, loaded once in `handover`'s main.

Shape (every section optional except what a deployment needs):

    [server] [kafka] [ledger] [logging] [web] [sync]
    [sources.<name>]  kind = "form" | "shopify" | ...   (POST /hooks/<name>)
    [targets.<name>]  kind = "file" | "smtp" | ...
    [[flows]]         name, on, if, [[flows.actions]] target, action, fields, minutes_saved

Keys of the fixed sections can be overridden from the environment as
HANDOVER_<SECTION>_<KEY> (e.g. HANDOVER_KAFKA_BOOTSTRAP_SERVERS; lists comma-separated, e.g.
HANDOVER_SERVER_TRUSTED_PROXIES=10.0.0.0/8,::1). Secrets are given inline
(`secret`, `secrets = [...]` for rotation) or by naming an environment variable (`secret_env`),
and are held as `Secret`, whose repr is masked.

Values are checked where a wrong one would only show at run time: numbers against the bounds
annotated on their fields (`Annotated[int, AtLeast1]`), and in `_check_sections` the ledger URL's
scheme, the log level and format. `handover check` reports the first problem, naming its key.

This module holds only the section structs and the TOML/env decoding; it knows no source or
connector kind and no flow. `services.assembly` puts those together into `Settings`.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from services.common.convert import bare_type, convert
from services.common.errors import ConfigError
from services.common.secrets import Secret

# Bounds for numeric settings; msgspec enforces them while decoding (not in __init__, so code and
# tests may still build a struct with any value).
AtLeast0 = msgspec.Meta(ge=0)
AtLeast1 = msgspec.Meta(ge=1)
Positive = msgspec.Meta(gt=0)
Port = msgspec.Meta(ge=0, le=65535)


def about(description: str, *examples: Any) -> msgspec.Meta:
    """A field's description (and examples) for the config's JSON Schema and `handover check --explain`."""
    return msgspec.Meta(description=description, examples=list(examples) if examples else None)


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ServerConfig(_Section):
    """Where the HTTP server (gateway + web) listens."""

    host: Annotated[str, about("The address to listen on.", "0.0.0.0")] = "127.0.0.1"
    port: Annotated[int, Port, about("The port to listen on; 0: any free port (tests).", 8080)] = 8080
    public_url: Annotated[str, about(
        "How others reach us, for printed links; empty: http://host:port.", "https://hooks.example.com"
    )] = ""
    gateway_url: Annotated[str, about(
        "Where browsers and vendors reach the gateway's /hooks/ when it runs apart from the web app; "
        "empty: this server.", "http://localhost:8081"
    )] = ""
    # From anyone else those headers are ignored. The default, a proxy on this machine, is safe:
    # only local processes can connect from loopback.
    trusted_proxies: Annotated[list[str], about(
        "Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For / X-Forwarded-Proto are "
        "believed; []: the socket peer is the client.", ["10.0.0.0/8", "::1"]
    )] = msgspec.field(default_factory=lambda: ["127.0.0.1", "::1"])
    read_timeout_s: Annotated[float, AtLeast0, about(
        "Seconds a client may take for a request's headers, or pause inside its body; 0: no timeout."
    )] = 30.0
    # Trusted proxies are never capped: they carry many clients.
    max_connections_per_client: Annotated[int, AtLeast0, about(
        "Open connections one client address may hold at once; 0: no cap."
    )] = 64
    ops_listen: Annotated[str, about(
        "A second listener (host:port) for /metrics and the operations pages; empty: the main port.",
        "127.0.0.1:9090",
    )] = ""


class KafkaConfig(_Section):
    """The Kafka cluster; an empty `bootstrap_servers` starts the embedded broker."""

    bootstrap_servers: Annotated[str, about(
        "Kafka brokers, comma-separated; empty: `handover run` starts an embedded broker.", "kafka:9092"
    )] = ""
    # Also keeps the embedded broker's fetches cheap: its memory storage lists a partition's whole
    # log on every fetch that returns records (docs/benchmarks.md, "End to end").
    partitions: Annotated[int, AtLeast1, about(
        "Partitions per event topic: the most sync replicas that can share a target's work."
    )] = 12
    # Kafka's broker default (message.max.bytes) is 1048588.
    max_record_bytes: Annotated[int, AtLeast1, about(
        "The largest record the producer sends (key + value + headers); a bigger event is answered 413."
    )] = 1_000_000
    replication_factor: Annotated[int, AtLeast1, about("Replicas of each topic (3 on a real cluster).", 3)] = 1
    # The test broker answers a fetch only after the full wait (BROKER_NOTES 1): keep it short.
    fetch_max_wait_ms: Annotated[int, AtLeast0, about("How long a fetch waits for records, in ms.")] = 20
    session_timeout_ms: Annotated[int, AtLeast1, about("Consumer group session timeout, in ms.")] = 10_000
    heartbeat_interval_ms: Annotated[int, AtLeast1, about(
        "Consumer heartbeat interval, in ms; below session_timeout_ms."
    )] = 3_000
    # Kafka's default is 5 minutes.
    metadata_max_age_ms: Annotated[int, AtLeast1, about(
        "How soon consumers notice new partitions (an operator adding them), in ms."
    )] = 10_000
    publish_timeout_s: Annotated[float, Positive, about("How long a publish may wait for acks=all, in s.")] = 5.0
    # Idempotent producers need InitProducerId, which the embedded Tansu 0.6 (memory storage)
    # answers with an error; `handover run` turns it off there.
    idempotence: Annotated[bool, about("Idempotent producers; keep on for real Kafka.")] = True
    client_id: Annotated[str, about("The Kafka client id prefix.")] = "handover"
    # "auto": on with the embedded broker (which keeps nothing across a restart), off with a real
    # Kafka cluster (itself the durable log).
    journal: Annotated[Literal["auto", "on", "off"], about(
        "Keep every accepted event in the ledger until its actions are finished, and publish it again "
        "into a broker that lost it."
    )] = "auto"
    # The embedded broker never frees a record (BROKER_NOTES 4). 112 MiB, replaced at once past
    # 140: with Handover itself (~100-130 MiB) the tree stays under 300 MB (bench/onebox).
    embedded_max_rss_mb: Annotated[int, AtLeast0, about(
        "Past this resident size the embedded broker is replaced by a fresh one at a quiet moment "
        "(the journal re-drives what is unfinished); 0: never."
    )] = 112
    # A consumer that found nothing stops fetching until this process publishes something (it is
    # woken at once).
    idle_fetch_poll_s: Annotated[float, AtLeast0, about(
        "In `handover run`, how often an idle consumer looks anyway for records other processes "
        "published (`handover replay`), in s; 0: always fetch."
    )] = 5.0


class LedgerConfig(_Section):
    """Where deliveries, events and the dedupe memory are kept."""

    url: Annotated[str, about(
        "The ledger database; empty: sqlite:///<data_dir>/handover.db.",
        "sqlite:///var/handover.db", "postgresql://handover@db:5432/handover",
    )] = ""


class LoggingConfig(_Section):
    """Log level and format (auto: console on a TTY, JSON otherwise)."""

    level: Annotated[str, about("debug, info, warning, error or critical, in any case.", "info")] = "info"
    format: Annotated[str, about("auto (console on a TTY, JSON otherwise), json or console.", "json")] = "auto"


class WebConfig(_Section):
    """Admin pages and API credentials."""

    admin_password: Annotated[str, about("The admin pages' password (prefer admin_password_env).")] = ""
    admin_password_env: Annotated[str, about(
        "The environment variable holding the admin password.", "HANDOVER_ADMIN_PASSWORD"
    )] = ""
    api_token: Annotated[str, about("The admin API's bearer token (prefer api_token_env).")] = ""
    api_token_env: Annotated[str, about(
        "The environment variable holding the API token.", "HANDOVER_API_TOKEN"
    )] = ""
    handoff_after_s: Annotated[float, AtLeast0, about(
        "An event not fully delivered after this many seconds shows on /handoffs."
    )] = 300.0
    session_secret_env: Annotated[str, about(
        "The environment variable holding the key that signs login cookies (shared by web replicas); "
        "empty: a random key per process.", "HANDOVER_SESSION_SECRET"
    )] = ""


class SyncConfig(_Section):
    """How the consumers deliver: attempts, backoff, concurrency, circuit breaker."""

    max_attempts: Annotated[int, AtLeast1, about("Attempts of a transient failure before the dead letter.")] = 8
    backoff_initial_s: Annotated[float, Positive, about("The first retry's delay, in s (doubling).")] = 0.5
    backoff_max_s: Annotated[float, Positive, about("The longest retry delay, in s.")] = 60.0
    delivery_timeout_s: Annotated[float, Positive, about("The longest one delivery may take, in s.")] = 10.0
    # 0 would deliver nothing.
    concurrency: Annotated[int, AtLeast1, about(
        "Calls in flight to one target at once (records in hand: 4x this)."
    )] = 16
    breaker_threshold: Annotated[int, AtLeast1, about(
        "Consecutive transient failures that pause a target."
    )] = 5
    breaker_probe_s: Annotated[float, Positive, about("How often a paused target is tried again, in s.")] = 10.0
    permanent_attempts: Annotated[int, AtLeast1, about(
        "Attempts of a permanent failure before the dead letter."
    )] = 1
    # Whatever a crash leaves uncommitted is read again and skipped by the ledger; shorter only
    # costs broker calls.
    commit_interval_s: Annotated[float, AtLeast0, about(
        "How often finished offsets are committed (also on revoke and on shutdown), in s."
    )] = 1.0


class NotifyConfig(_Section):
    """Messages to the owner (services.notify): a new dead letter, a target paused for long, a
    source quiet beyond its rhythm, and a weekly digest. An empty `target` turns them off."""

    target: str = ""  # a target of kind smtp, maildir or http (a chat webhook)
    to: str = ""  # the owner's e-mail address, for a smtp or maildir target
    lang: str = "en"  # en, nl or da
    check_interval_s: Annotated[float, Positive] = 60.0
    paused_after_s: Annotated[float, AtLeast0] = 600.0  # a target paused this long is worth a message
    max_per_hour: Annotated[int, AtLeast1] = 6  # beyond this, one message says how many more wait
    digest_weekday: Annotated[int, msgspec.Meta(ge=0, le=6)] = 0  # Monday
    digest_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 8  # local time of the process


class ActionConfig(_Section):
    """One thing a flow does at one target."""

    target: str
    action: str
    name: str = ""  # part of the idempotency key; defaults to the action
    fields: dict[str, str] = {}  # Jinja2 templates over the event; connector defaults fill the rest
    options: dict[str, Any] = {}  # connector-specific extras (template names, task due days, ...)
    minutes_saved: float | None = None

    @property
    def key(self) -> str:
        """This action's stable name inside its flow."""
        return self.name or self.action


class FlowConfig(_Section):
    """On an event type, if a condition holds, do one or more actions."""

    name: str
    on: str
    condition: str = msgspec.field(default="", name="if")
    actions: list[ActionConfig] = []


class SourceConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Keys every source kind takes; a kind subclasses it with its own."""

    kind: Annotated[str, about("The vendor or protocol that sends to this source.", "form", "shopify")]
    secret: Annotated[str, about("The signing secret the sender uses (prefer `secret_env`).")] = ""
    secrets: Annotated[list[str], about("More accepted signing secrets, while one is being rotated.")] = []
    secret_env: Annotated[str, about("The environment variable holding the signing secret.", "SHOP_SECRET")] = ""
    # Below kafka.max_record_bytes: the event carries the body's content plus its own fields.
    max_body_bytes: Annotated[int, AtLeast1, about("The largest request body accepted, in bytes.")] = 512 * 1024
    rate_limit_per_minute: Annotated[
        int, AtLeast0, about("Requests a minute for the whole source; 0: unlimited.")
    ] = 6000
    client_rate_limit_per_minute: Annotated[Annotated[int, AtLeast0] | None, about(
        "Requests a minute per client address (server.trusted_proxies decides what that is); unset: 20 "
        "for unsigned kinds (a website form), unlimited for signed ones (a vendor sends from a few addresses)."
    )] = None
    dedupe_window_hours: Annotated[
        float, Positive, about("How long a delivery id is remembered, to drop the sender's resends.")
    ] = 72.0


class TargetConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Keys every target kind takes; a connector subclasses it with its own."""

    kind: Annotated[str, about("The system this target delivers to.", "file", "moneybird")]
    secret: Annotated[str, about("The target's API token or password (prefer `secret_env`).")] = ""
    secret_env: Annotated[str, about("The environment variable holding the secret.", "MONEYBIRD_TOKEN")] = ""


class SourceSpec(msgspec.Struct, frozen=True):
    """A configured source: its name, kind-specific config and resolved secrets."""

    name: str
    config: SourceConfig
    secrets: tuple[Secret, ...] = ()
    api_key: Secret | None = None  # a kind's own key for the vendor's API (`api_key_env`), if any
    captcha_secret: Secret | None = None  # a form's captcha vendor key ([sources.<name>.captcha])

    @property
    def kind(self) -> str:
        """The source kind."""
        return self.config.kind


class TargetSpec(msgspec.Struct, frozen=True):
    """A configured target: its name, connector config and resolved secret."""

    name: str
    config: TargetConfig
    secret: Secret | None = None

    @property
    def kind(self) -> str:
        """The connector kind."""
        return self.config.kind


class RawConfig(_Section):
    """The file as decoded, before the kinds of sources and targets are known."""

    server: ServerConfig = ServerConfig()
    kafka: KafkaConfig = KafkaConfig()
    ledger: LedgerConfig = LedgerConfig()
    logging: LoggingConfig = LoggingConfig()
    web: WebConfig = WebConfig()
    sync: SyncConfig = SyncConfig()
    notify: NotifyConfig = NotifyConfig()
    data_dir: str = "var"
    sources: dict[str, dict[str, Any]] = {}
    targets: dict[str, dict[str, Any]] = {}
    flows: list[FlowConfig] = []


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything Handover needs, validated; built once by `services.assembly.load_settings`."""

    server: ServerConfig = ServerConfig()
    kafka: KafkaConfig = KafkaConfig()
    ledger: LedgerConfig = LedgerConfig()
    logging: LoggingConfig = LoggingConfig()
    web: WebConfig = WebConfig()
    sync: SyncConfig = SyncConfig()
    notify: NotifyConfig = NotifyConfig()
    data_dir: str = "var"
    sources: dict[str, SourceSpec] = {}
    targets: dict[str, TargetSpec] = {}
    flows: list[FlowConfig] = []
    # The flows compiled once by services.assembly (services.flows.compile.CompiledFlow): the sync
    # workers, the recorder and replay all read these. Typed loosely because this module sits
    # below the flow compiler and may not import it.
    compiled_flows: tuple[Any, ...] = ()
    admin_password: Secret | None = None
    api_token: Secret | None = None
    origin: str = ""  # the file it came from, or "built-in demo"

    @property
    def public_url(self) -> str:
        """The base URL people use to reach the server."""
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"

    def data_path(self, *parts: str) -> Path:
        """A path under the data directory (created on demand by whoever writes there)."""
        return Path(self.data_dir, *parts)


_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS = ("auto", "json", "console")
_SIMPLE_SECTIONS = {
    "server": ServerConfig,
    "kafka": KafkaConfig,
    "ledger": LedgerConfig,
    "logging": LoggingConfig,
    "web": WebConfig,
    "sync": SyncConfig,
}


def _env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for section, cls in _SIMPLE_SECTIONS.items():
        for field in msgspec.structs.fields(cls):
            value = env.get(f"HANDOVER_{section}_{field.encode_name}".upper())
            if value is not None:
                # A list (server.trusted_proxies) is given comma-separated: "10.0.0.0/8,::1".
                is_list = typing.get_origin(bare_type(field.type)) is list
                raw.setdefault(section, {})[field.encode_name] = (
                    [v.strip() for v in value.split(",") if v.strip()] if is_list else value
                )


def resolve_secret(value: str, env_name: str, env: Mapping[str, str], path: str) -> Secret | None:
    """The secret given inline or named by `<key>_env`; ConfigError naming the key if unset or empty."""
    if env_name:
        if env_name not in env:
            raise ConfigError(path + "_env", f"environment variable {env_name} is not set")
        if not env[env_name].strip():  # an empty key would let anyone sign, or log in
            raise ConfigError(path + "_env", f"environment variable {env_name} is empty")
        return Secret(env[env_name])
    return Secret(value) if value else None


def _check_sections(raw: RawConfig) -> None:
    """Values of the fixed sections that decode fine but `handover run` would trip over."""
    url = raw.ledger.url
    if not url.startswith(("sqlite:", "postgresql:", "postgres:")):  # what services.ledger.db.connect opens
        scheme = urlsplit(url).scheme  # not the URL itself: it may carry a password
        got = f"scheme {scheme!r}" if scheme else "no scheme"
        raise ConfigError(
            "ledger.url",
            f"unsupported database URL ({got}); use sqlite:///path/to/file.db, sqlite:///:memory: "
            "or postgresql://user:password@host:5432/db",
        )
    if raw.logging.level.upper() not in logging.getLevelNamesMapping():
        raise ConfigError("logging.level", f"must be one of {', '.join(_LOG_LEVELS)} (got {raw.logging.level!r})")
    if raw.logging.format not in _LOG_FORMATS:
        raise ConfigError("logging.format", f"must be one of {', '.join(_LOG_FORMATS)} (got {raw.logging.format!r})")
    for i, proxy in enumerate(raw.server.trusted_proxies):
        try:
            ipaddress.ip_network(proxy.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"server.trusted_proxies[{i}]", f"not an IP address or network (got {proxy!r}); e.g. 10.0.0.0/8"
            ) from None
    if raw.server.ops_listen and listen_address(raw.server.ops_listen) is None:
        raise ConfigError(
            "server.ops_listen", f"must be host:port, e.g. 127.0.0.1:9090 (got {raw.server.ops_listen!r})"
        )
    if raw.kafka.heartbeat_interval_ms >= raw.kafka.session_timeout_ms:
        raise ConfigError(
            "kafka.heartbeat_interval_ms",
            f"must be less than kafka.session_timeout_ms ({raw.kafka.session_timeout_ms}; "
            f"got {raw.kafka.heartbeat_interval_ms})",
        )


def listen_address(value: str) -> tuple[str, int] | None:
    """("host", port) from "host:port" or "[v6]:port"; None when it is not that."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    return host.removeprefix("[").removesuffix("]"), int(port)


def decode_raw(text: str, env: Mapping[str, str]) -> RawConfig:
    """Decode a TOML config with its environment overrides and check the fixed sections; the
    `[sources.*]` and `[targets.*]` tables stay raw for `services.assembly` (which knows the kinds)."""
    try:
        data = msgspec.toml.decode(text.encode())
    except msgspec.DecodeError as exc:
        raise ConfigError("", f"not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("", "expected a TOML table at the top")
    _env_overrides(data, env)
    _no_placeholders(data, "")
    raw: RawConfig = convert(data, RawConfig, "")
    if not raw.ledger.url:  # the default ledger lives in the data directory
        ledger = msgspec.structs.replace(raw.ledger, url=f"sqlite:///{Path(raw.data_dir, 'handover.db')}")
        raw = msgspec.structs.replace(raw, ledger=ledger)
    _check_sections(raw)
    return raw


# The README's examples leave `<tax_rate_id>`, `<your host>` for the owner to fill in: a config
# that still has one would fail at the first delivery instead of at `handover check`.
# A word with "_" or a space in it, so HTML in a template ("<p>", "<strong>") is not one.
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w.-]*[_ ][\w .-]*>")


def _no_placeholders(value: object, path: str) -> None:
    if isinstance(value, str):
        found = _PLACEHOLDER.search(value)
        if found:
            raise ConfigError(
                path, f"still holds the placeholder {found.group(0)} from the README: put your own value here"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_placeholders(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_placeholders(item, f"{path}[{i}]")


def check_notify(notify: NotifyConfig, targets: Mapping[str, TargetSpec]) -> None:
    """The owner's notifications name a mail or http target and, for mail, an address."""
    if not notify.target:
        return
    spec = targets.get(notify.target)
    if spec is None:
        raise ConfigError("notify.target", f"no target named {notify.target!r}; known: {', '.join(sorted(targets))}")
    if spec.kind not in ("smtp", "maildir", "http"):
        raise ConfigError("notify.target", f"must be a smtp, maildir or http target; {notify.target!r} is {spec.kind}")
    if spec.kind != "http" and "@" not in notify.to:
        raise ConfigError("notify.to", "the owner's e-mail address, for the messages sent through a mail target")
    if notify.lang not in ("en", "nl", "da"):
        raise ConfigError("notify.lang", f"must be en, nl or da (got {notify.lang!r})")


def demo_config_text() -> str:
    """The built-in demo config: a website form into a CRM outbox and a maildir."""
    return resources.files("services.common").joinpath("demo.toml").read_text("utf-8")


def read_config_text(path: str) -> str:
    """The text of the config file at `path`; ConfigError when it cannot be read."""
    try:
        return Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror}") from None
