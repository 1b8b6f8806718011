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
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from services.common.errors import ConfigError
from services.common.secrets import Secret

# Bounds for numeric settings; msgspec enforces them while decoding (not in __init__, so code and
# tests may still build a struct with any value).
AtLeast0 = msgspec.Meta(ge=0)
AtLeast1 = msgspec.Meta(ge=1)
Positive = msgspec.Meta(gt=0)
Port = msgspec.Meta(ge=0, le=65535)


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ServerConfig(_Section):
    """Where the HTTP server (gateway + web) listens."""

    host: str = "127.0.0.1"
    port: Annotated[int, Port] = 8080  # 0: any free port (tests)
    public_url: str = ""  # how others reach us, for printed links; defaults to http://host:port
    # Where browsers and vendors reach the gateway's /hooks/, when it runs apart from the web
    # app (docker-compose: :8081); empty: this server.
    gateway_url: str = ""
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For / X-Forwarded-Proto are
    # believed; from anyone else those headers are ignored. Default: a proxy on this machine
    # (only local processes can connect from loopback); [] makes the socket peer the client.
    trusted_proxies: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Slow or idle clients: a request's headers must arrive within this, and its body must keep
    # coming (no gap longer than this); 0 turns the timeout off.
    read_timeout_s: Annotated[float, AtLeast0] = 30.0
    # Open connections one client address may hold at once (0: no cap); trusted proxies are
    # never capped (they carry many clients).
    max_connections_per_client: Annotated[int, AtLeast0] = 64
    # A second listener for /metrics and the operations pages (e.g. "127.0.0.1:9090"); empty:
    # they answer on the main port like everything else.
    ops_listen: str = ""


class KafkaConfig(_Section):
    """The Kafka cluster; an empty `bootstrap_servers` starts the embedded broker."""

    bootstrap_servers: str = ""
    # The most sync replicas that can share a target's work. Also keeps the embedded broker's
    # fetches cheap: its memory storage lists a partition's whole log on every fetch that
    # returns records (docs/benchmarks.md, "End to end").
    partitions: Annotated[int, AtLeast1] = 12
    # The largest record the producer sends (key + value + headers); Kafka's broker default
    # (message.max.bytes) is 1048588. A bigger event is answered 413 before it is published.
    max_record_bytes: Annotated[int, AtLeast1] = 1_000_000
    replication_factor: Annotated[int, AtLeast1] = 1
    # The test broker answers a fetch only after the full wait (BROKER_NOTES 1): keep it short.
    fetch_max_wait_ms: Annotated[int, AtLeast0] = 20
    session_timeout_ms: Annotated[int, AtLeast1] = 10_000
    heartbeat_interval_ms: Annotated[int, AtLeast1] = 3_000  # below session_timeout_ms
    # How soon consumers notice new partitions (an operator adding them, or a broker that
    # re-created a topic with its own default); Kafka's default is 5 minutes.
    metadata_max_age_ms: Annotated[int, AtLeast1] = 10_000
    publish_timeout_s: Annotated[float, Positive] = 5.0
    # Idempotent producers need InitProducerId, which the embedded Tansu 0.6 (memory storage)
    # answers with an error; `handover run` turns it off there. Keep it on for real Kafka.
    idempotence: bool = True
    client_id: str = "handover"
    # The intake journal: every accepted event kept in the ledger until its actions are finished,
    # and published again into a broker that lost it. "auto": on with the embedded broker (which
    # keeps nothing across a restart), off with a real Kafka cluster (itself the durable log).
    journal: Literal["auto", "on", "off"] = "auto"
    # The embedded broker never frees a record (BROKER_NOTES 4): past this resident size it is
    # replaced by a fresh one at a quiet moment, the journal re-driving what is unfinished. 0: never.
    embedded_max_rss_mb: Annotated[int, AtLeast0] = 160
    # In `handover run`, a consumer that found nothing for a while stops fetching until this
    # process publishes something (it is woken at once), looking anyway every this many seconds
    # for records other processes published (`handover replay`). 0: always fetch.
    idle_fetch_poll_s: Annotated[float, AtLeast0] = 5.0


class LedgerConfig(_Section):
    """Where deliveries, events and the dedupe memory are kept."""

    # Empty: sqlite:///<data_dir>/handover.db. Or sqlite:///:memory:, postgresql://user@host:5432/db
    url: str = ""


class LoggingConfig(_Section):
    """Log level and format (auto: console on a TTY, JSON otherwise)."""

    level: str = "info"  # debug, info, warning, error or critical, in any case
    format: str = "auto"  # auto, json or console


class WebConfig(_Section):
    """Admin pages and API credentials."""

    admin_password: str = ""
    admin_password_env: str = ""
    api_token: str = ""
    api_token_env: str = ""
    handoff_after_s: Annotated[float, AtLeast0] = 300.0  # an event not fully delivered after this shows on /handoffs
    session_secret_env: str = ""  # signs login cookies; empty: a random key per process


class SyncConfig(_Section):
    """How the consumers deliver: attempts, backoff, concurrency, circuit breaker."""

    max_attempts: Annotated[int, AtLeast1] = 8
    backoff_initial_s: Annotated[float, Positive] = 0.5
    backoff_max_s: Annotated[float, Positive] = 60.0
    delivery_timeout_s: Annotated[float, Positive] = 10.0
    # Calls in flight to one target at once (records in hand: 4x this); 0 would deliver nothing.
    concurrency: Annotated[int, AtLeast1] = 16
    breaker_threshold: Annotated[int, AtLeast1] = 5  # consecutive transient failures that pause a target
    breaker_probe_s: Annotated[float, Positive] = 10.0
    # A Permanent error is dead-lettered after this many attempts.
    permanent_attempts: Annotated[int, AtLeast1] = 1
    # How often finished offsets are committed (also on revoke and on shutdown). Whatever a crash
    # leaves uncommitted is read again and skipped by the ledger; shorter only costs broker calls.
    commit_interval_s: Annotated[float, AtLeast0] = 1.0


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

    kind: str
    secret: str = ""
    secrets: list[str] = []
    secret_env: str = ""
    # Below kafka.max_record_bytes: the event carries the body's content plus its own fields.
    max_body_bytes: Annotated[int, AtLeast1] = 512 * 1024
    rate_limit_per_minute: Annotated[int, AtLeast0] = 6000  # the whole source; 0: unlimited
    # Per client address (server.trusted_proxies decides what that is); None: 20 for unsigned
    # kinds (a website form), unlimited for signed ones (a vendor sends from a few addresses).
    client_rate_limit_per_minute: Annotated[int, AtLeast0] | None = None
    dedupe_window_hours: Annotated[float, Positive] = 72.0


class TargetConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Keys every target kind takes; a connector subclasses it with its own."""

    kind: str
    secret: str = ""
    secret_env: str = ""


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


class _Raw(_Section):
    server: ServerConfig = ServerConfig()
    kafka: KafkaConfig = KafkaConfig()
    ledger: LedgerConfig = LedgerConfig()
    logging: LoggingConfig = LoggingConfig()
    web: WebConfig = WebConfig()
    sync: SyncConfig = SyncConfig()
    data_dir: str = "var"
    sources: dict[str, dict[str, Any]] = {}
    targets: dict[str, dict[str, Any]] = {}
    flows: list[FlowConfig] = []


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything Handover needs, validated; built once by `load_settings`."""

    server: ServerConfig = ServerConfig()
    kafka: KafkaConfig = KafkaConfig()
    ledger: LedgerConfig = LedgerConfig()
    logging: LoggingConfig = LoggingConfig()
    web: WebConfig = WebConfig()
    sync: SyncConfig = SyncConfig()
    data_dir: str = "var"
    sources: dict[str, SourceSpec] = {}
    targets: dict[str, TargetSpec] = {}
    flows: list[FlowConfig] = []
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


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_BOUND = re.compile(r"Expected `\w+` (>=|>|<=|<) (\S+)")
_BOUND_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}
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


def _join(prefix: str, path: str) -> str:
    path = path.lstrip(".")
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + ("" if path.startswith("[") else ".") + path


def _steps(path: str) -> list[str | int]:
    """A msgspec path (`.flows[0].actions`) as keys and indexes: ["flows", 0, "actions"]."""
    return [int(index) if index else key for key, index in _STEP.findall(path)]


def _known_keys(cls: Any, steps: list[str | int]) -> list[str]:
    """The keys of the table at `steps` in a document decoded as `cls` (structs and lists only)."""
    for step in steps:
        if isinstance(step, int):
            cls = typing.get_args(cls)[0]
        else:
            cls = next(f.type for f in msgspec.structs.fields(cls) if f.encode_name == step)
    return sorted(f.encode_name for f in msgspec.structs.fields(cls))


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}known keys: {', '.join(known)}"


def convert(raw: object, cls: type[Any], prefix: str) -> Any:
    """msgspec.convert with the error re-worded to name the dotted key path."""
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        m = _AT.match(str(exc))
        assert m is not None
        msg = m.group("msg")
        steps = _steps(m.group("path") or "")
        path = _join(prefix, m.group("path") or "")
        unknown = re.match(r"Object contains unknown field `([^`]+)`", msg)
        if unknown:
            path = _join(path, unknown.group(1))
            msg = _unknown_key(unknown.group(1), _known_keys(cls, steps))
        bound = _BOUND.fullmatch(msg)
        if bound:
            value: Any = raw
            for step in steps:  # msgspec names the key of the value it refused
                value = value[step]
            limit = bound.group(2).removesuffix(".0")
            msg = f"must be {_BOUND_WORDS[bound.group(1)]} {limit} (got {value})"
        missing = re.match(r"Object missing required field `([^`]+)`", msg)
        if missing:
            path = _join(path, missing.group(1))
            msg = "required key is missing"
        raise ConfigError(path, msg) from None


def _env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for section, cls in _SIMPLE_SECTIONS.items():
        for field in msgspec.structs.fields(cls):
            value = env.get(f"HANDOVER_{section}_{field.encode_name}".upper())
            if value is not None:
                # A list (server.trusted_proxies) is given comma-separated: "10.0.0.0/8,::1".
                is_list = typing.get_origin(field.type) is list or field.type == "list[str]"
                raw.setdefault(section, {})[field.encode_name] = (
                    [v.strip() for v in value.split(",") if v.strip()] if is_list else value
                )


def _secret(value: str, env_name: str, env: Mapping[str, str], path: str) -> Secret | None:
    if env_name:
        if env_name not in env:
            raise ConfigError(path + "_env", f"environment variable {env_name} is not set")
        if not env[env_name].strip():  # an empty key would let anyone sign, or log in
            raise ConfigError(path + "_env", f"environment variable {env_name} is empty")
        return Secret(env[env_name])
    return Secret(value) if value else None


def _check_sections(raw: _Raw) -> None:
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


def _unknown_kind(path: str, kind: str, known: Mapping[str, object]) -> ConfigError:
    return ConfigError(f"{path}.kind", f"unknown kind {kind!r}; known: {', '.join(sorted(known))}")


def parse_settings(text: str, env: Mapping[str, str] | None = None, origin: str = "") -> Settings:
    """Decode and validate a TOML config; raises ConfigError naming the offending key."""
    from services.gateway.sources import source_kinds
    from services.sync.connectors import connector_kinds

    env = os.environ if env is None else env
    try:
        data = msgspec.toml.decode(text.encode())
    except msgspec.DecodeError as exc:
        raise ConfigError("", f"not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("", "expected a TOML table at the top")
    _env_overrides(data, env)
    raw: _Raw = convert(data, _Raw, "")
    if not raw.ledger.url:  # the default ledger lives in the data directory
        ledger = msgspec.structs.replace(raw.ledger, url=f"sqlite:///{Path(raw.data_dir, 'handover.db')}")
        raw = msgspec.structs.replace(raw, ledger=ledger)
    _check_sections(raw)

    sources: dict[str, SourceSpec] = {}
    kinds = source_kinds()
    for name, table in raw.sources.items():
        path = f"sources.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError(path, "a source name may use letters, digits, '-' and '_' only")
        kind = str(table.get("kind", ""))
        if kind not in kinds:
            raise _unknown_kind(path, kind, kinds)
        cfg: SourceConfig = convert(table, kinds[kind].Config, path)
        for i, value in enumerate(cfg.secrets):
            if not value.strip():  # an empty key verifies a signature anyone can make
                raise ConfigError(f"{path}.secrets[{i}]", "is empty; remove it or give the secret")
        if cfg.secret and not cfg.secret.strip():
            raise ConfigError(f"{path}.secret", "is blank")
        secrets = [Secret(s) for s in ([cfg.secret] if cfg.secret else []) + list(cfg.secrets)]
        if cfg.secret_env:
            env_secret = _secret("", cfg.secret_env, env, f"{path}.secret")
            assert env_secret is not None
            secrets.insert(0, env_secret)
        api_key = _secret("", getattr(cfg, "api_key_env", ""), env, f"{path}.api_key")
        captcha = getattr(cfg, "captcha", None)
        captcha_secret = (
            _secret(captcha.secret, captcha.secret_env, env, f"{path}.captcha.secret") if captcha is not None else None
        )
        sources[name] = SourceSpec(name=name, config=cfg, secrets=tuple(secrets), api_key=api_key,
                                   captcha_secret=captcha_secret)

    targets: dict[str, TargetSpec] = {}
    connectors = connector_kinds()
    for name, table in raw.targets.items():
        path = f"targets.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError(path, "a target name may use letters, digits, '-' and '_' only")
        kind = str(table.get("kind", ""))
        if kind not in connectors:
            raise _unknown_kind(path, kind, connectors)
        tcfg: TargetConfig = convert(table, connectors[kind].Config, path)
        secret = _secret(tcfg.secret, tcfg.secret_env, env, f"{path}.secret")
        if connectors[kind].needs_secret and secret is None:
            raise ConfigError(f"{path}.secret", f"a {kind} target needs its API token as `secret` or `secret_env`")
        targets[name] = TargetSpec(name=name, config=tcfg, secret=secret)

    settings = Settings(
        server=raw.server,
        kafka=raw.kafka,
        ledger=raw.ledger,
        logging=raw.logging,
        web=raw.web,
        sync=raw.sync,
        data_dir=raw.data_dir,
        sources=sources,
        targets=targets,
        flows=raw.flows,
        admin_password=_secret(
            raw.web.admin_password, raw.web.admin_password_env, env, "web.admin_password"
        ),
        api_token=_secret(raw.web.api_token, raw.web.api_token_env, env, "web.api_token"),
        origin=origin,
    )
    from services.flows.compile import compile_flows

    compile_flows(settings)  # raises ConfigError for unknown targets, actions, fields, conditions
    for spec in sources.values():
        kinds[spec.kind].check(spec)
    return settings


def demo_config_text() -> str:
    """The built-in demo config: a website form into a CRM outbox and a maildir."""
    return resources.files("services.common").joinpath("demo.toml").read_text("utf-8")


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load the config file at `path`, or the built-in demo config when `path` is None."""
    if path is None:
        return parse_settings(demo_config_text(), env, origin="built-in demo")
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror}") from None
    return parse_settings(text, env, origin=path)
