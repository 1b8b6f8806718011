"""Composition: the one place that knows every source kind, connector kind and the flow compiler,
and puts a decoded config together into `Settings` (kind configs, resolved secrets, compiled flows).

Layering: `services.common.config` decodes the file's fixed sections and knows no kind; the kinds
live in gateway and sync and import common; this module sits above them all (beside runtime and
cli), so nothing below has to reach up to validate a config.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from schemas.export import config_json_schema
from services.common.config import (
    RawConfig,
    Settings,
    SourceConfig,
    SourceSpec,
    TargetConfig,
    TargetSpec,
    check_notify,
    decode_raw,
    demo_config_text,
    read_config_text,
    resolve_secret,
)
from services.common.convert import convert
from services.common.errors import ConfigError
from services.common.secrets import Secret
from services.flows.compile import compile_flows
from services.gateway.sources import source_kinds
from services.gateway.sources.base import Source
from services.sync.connectors import connector_kinds
from services.sync.connectors.base import Connector

_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _unknown_kind(path: str, kind: str, known: Mapping[str, object]) -> ConfigError:
    return ConfigError(f"{path}.kind", f"unknown kind {kind!r}; known: {', '.join(sorted(known))}")


def _named_kind(
    section: str, name: str, table: Mapping[str, object], kinds: Mapping[str, object]
) -> tuple[str, str]:
    """The key path of `[<section>s.<name>]` and its kind, once the name and kind are checked.

    This dispatch on `kind`, then `convert` into that kind's Config, is a tagged union by hand.
    msgspec's own (`tag_field="kind"`) was tried and not taken: it refuses a struct that also
    declares `kind` (`tag_field='kind' conflicts with an existing field`), so the field would lose
    the description and examples the JSON Schema and `--explain` show; an unknown kind would read
    "Invalid value 'x' - at `$.kind`" without the list of known kinds; and kinds from entry points
    would need the union type rebuilt at run time."""
    path = f"{section}s.{name}"
    if not _NAME.fullmatch(name):
        raise ConfigError(path, f"a {section} name may use letters, digits, '-' and '_' only")
    kind = str(table.get("kind", ""))
    if kind not in kinds:
        raise _unknown_kind(path, kind, kinds)
    return path, kind


def _sources(tables: Mapping[str, dict[str, object]], env: Mapping[str, str]) -> dict[str, SourceSpec]:
    """Each `[sources.<name>]` table decoded as its kind's config, with its secrets resolved."""
    kinds = source_kinds()
    sources: dict[str, SourceSpec] = {}
    for name, table in tables.items():
        path, kind = _named_kind("source", name, table, kinds)
        cfg: SourceConfig = convert(table, kinds[kind].Config, path)
        for i, value in enumerate(cfg.secrets):
            if not value.strip():  # an empty key verifies a signature anyone can make
                raise ConfigError(f"{path}.secrets[{i}]", "is empty; remove it or give the secret")
        if cfg.secret and not cfg.secret.strip():
            raise ConfigError(f"{path}.secret", "is blank")
        secrets = [Secret(s) for s in ([cfg.secret] if cfg.secret else []) + list(cfg.secrets)]
        if cfg.secret_env:
            env_secret = resolve_secret("", cfg.secret_env, env, f"{path}.secret")
            assert env_secret is not None
            secrets.insert(0, env_secret)
        api_key = resolve_secret("", getattr(cfg, "api_key_env", ""), env, f"{path}.api_key")
        captcha = getattr(cfg, "captcha", None)
        captcha_secret = (
            resolve_secret(captcha.secret, captcha.secret_env, env, f"{path}.captcha.secret")
            if captcha is not None else None
        )
        sources[name] = SourceSpec(name=name, config=cfg, secrets=tuple(secrets), api_key=api_key,
                                   captcha_secret=captcha_secret)
    return sources


def _targets(tables: Mapping[str, dict[str, object]], env: Mapping[str, str]) -> dict[str, TargetSpec]:
    """Each `[targets.<name>]` table decoded as its connector's config, with its secret resolved."""
    connectors = connector_kinds()
    targets: dict[str, TargetSpec] = {}
    for name, table in tables.items():
        path, kind = _named_kind("target", name, table, connectors)
        cfg: TargetConfig = convert(table, connectors[kind].Config, path)
        secret = resolve_secret(cfg.secret, cfg.secret_env, env, f"{path}.secret")
        if connectors[kind].needs_secret and secret is None:
            raise ConfigError(f"{path}.secret", f"a {kind} target needs its API token as `secret` or `secret_env`")
        targets[name] = TargetSpec(name=name, config=cfg, secret=secret)
    return targets


def parse_settings(text: str, env: Mapping[str, str] | None = None, origin: str = "") -> Settings:
    """Decode, validate and assemble a TOML config; raises ConfigError naming the offending key."""
    env = os.environ if env is None else env
    raw = decode_raw(text, env)
    sources = _sources(raw.sources, env)
    targets = _targets(raw.targets, env)
    check_notify(raw.notify, targets)
    settings = Settings(
        server=raw.server,
        kafka=raw.kafka,
        ledger=raw.ledger,
        logging=raw.logging,
        web=raw.web,
        sync=raw.sync,
        notify=raw.notify,
        data_dir=raw.data_dir,
        sources=sources,
        targets=targets,
        flows=raw.flows,
        admin_password=resolve_secret(raw.web.admin_password, raw.web.admin_password_env, env, "web.admin_password"),
        api_token=resolve_secret(raw.web.api_token, raw.web.api_token_env, env, "web.api_token"),
        origin=origin,
    )
    # Raises ConfigError for unknown targets, actions, fields, conditions; compiled once, here.
    compiled = tuple(compile_flows(settings, connector_kinds()))
    kinds = source_kinds()
    for spec in sources.values():
        kinds[spec.kind].check(spec)
    return msgspec.structs.replace(settings, compiled_flows=compiled)


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load the config file at `path`, or the built-in demo config when `path` is None."""
    if path is None:
        return parse_settings(demo_config_text(), env, origin="built-in demo")
    return parse_settings(read_config_text(path), env, origin=path)


def check_report(settings: Settings) -> str:
    """What `handover check` prints for a valid config: its sources, targets and flows."""
    lines = [
        f"{settings.origin}: OK",
        f"  sources: {', '.join(f'{n} ({s.kind})' for n, s in settings.sources.items()) or 'none'}",
        f"  targets: {', '.join(f'{n} ({t.kind})' for n, t in settings.targets.items()) or 'none'}",
    ]
    for flow in settings.flows:
        cond = f" if {flow.condition}" if flow.condition else ""
        acts = ", ".join(f"{a.action} -> {a.target}" for a in flow.actions)
        lines.append(f"  flow {flow.name!r}: on {flow.on}{cond}: {acts}")
    return "\n".join(lines)


def _summary(cls: type) -> str:
    return (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def config_schema() -> dict[str, Any]:
    """The JSON Schema of handover.toml, every registered source and connector kind included."""
    schema = config_json_schema(
        RawConfig,
        {kind: (cls.Config, _summary(cls)) for kind, cls in source_kinds().items()},
        {kind: (cls.Config, _summary(cls)) for kind, cls in connector_kinds().items()},
    )
    return {**schema, "title": "handover.toml", "description": "Handover's configuration: sections, "
            "sources (webhook intakes), targets (systems to deliver to) and flows."}


def _type(prop: dict[str, Any]) -> str:
    """A property's JSON Schema type in words: "string", "integer or none", "table"."""
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"]).replace("null", "none")
    if "$ref" in prop or prop.get("type") == "object":
        return "table"
    if prop.get("type") == "array":
        return f"list of {_type(prop.get('items', {}))}"
    return str(prop.get("type", "any"))


def _toml(value: object) -> str:
    """A value as it is written in TOML (inline tables with `=`)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def explain(kind: str) -> str:
    """What `handover check --explain KIND` prints: a kind's keys with types, defaults,
    descriptions and examples; ConfigError naming the known kinds when there is no such kind."""
    found: list[tuple[str, type[Source] | type[Connector]]] = [
        ("sources", cls) for k, cls in source_kinds().items() if k == kind
    ]
    found += [("targets", cls) for k, cls in connector_kinds().items() if k == kind]
    if not found:
        known = sorted({*source_kinds(), *connector_kinds()})
        raise ConfigError("--explain", f"unknown kind {kind!r}; known: {', '.join(known)}")
    out: list[str] = []
    for section, cls in found:
        config: type = cls.Config
        (ref,), defs = msgspec.json.schema_components([config], ref_template="{name}")
        props = defs[ref["$ref"]]["properties"]
        required = set(defs[ref["$ref"]].get("required", ()))
        out += [f"[{section}.<name>]  kind = {_toml(kind)}", f"  {_summary(cls)}", ""]
        for key, prop in props.items():
            if key == "kind":
                continue
            default = (
                "required" if key in required
                else "optional" if prop.get("default") is None
                else f"default {_toml(prop['default'])}"
            )
            out.append(f"  {key}: {_type(prop)}, {default}")
            if prop.get("description"):
                out.append(f"      {prop['description']}")
            for example in prop.get("examples", ()):
                out.append(f"      e.g. {key} = {_toml(example)}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
