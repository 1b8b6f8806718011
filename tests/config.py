"""One config builder for tests: the preamble every test needs, plus the tables the test is about.

    settings = make_settings(tmp_path, broker.bootstrap_servers, sources={"website": {"kind": "form"}})

Without `bootstrap` the config has no [kafka] table, so Handover starts its embedded broker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike
from typing import Any

from services.assembly import parse_settings
from services.common.config import Settings

Table = Mapping[str, Any]


def _value(value: Any) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), tables inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | PathLike):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _table(header: str, table: Table) -> list[str]:
    return [f"[{header}]", *(f"{_key(k)} = {_value(v)}" for k, v in table.items())]


def config_toml(
    data_dir: str | PathLike[str],
    bootstrap: str = "",
    *,
    server: Table | None = None,
    kafka: Table | None = None,
    ledger: Table | None = None,
    web: Table | None = None,
    sources: Mapping[str, Table] | None = None,
    targets: Mapping[str, Table] | None = None,
    flows: list[Table] | None = None,
) -> str:
    """handover.toml text: data_dir, a server on a free port, the test broker without idempotence
    (Tansu's), and the given tables (their keys as handover.toml spells them)."""
    lines = [f"data_dir = {_value(data_dir)}"]
    if flows:
        lines.append(f"flows = {_value(flows)}")  # top-level keys come before any [table]
    lines += _table("server", {"port": 0, **(server or {})})
    if bootstrap or kafka:
        lines += _table("kafka", {"bootstrap_servers": bootstrap, "idempotence": False, **(kafka or {})})
    if ledger:
        lines += _table("ledger", ledger)
    if web:
        lines += _table("web", web)
    for name, table in (sources or {}).items():
        lines += _table(f"sources.{_key(name)}", table)
    for name, table in (targets or {}).items():
        lines += _table(f"targets.{_key(name)}", table)
    return "\n".join(lines) + "\n"


def make_settings(
    data_dir: str | PathLike[str], bootstrap: str = "", *, env: Mapping[str, str] | None = None, **tables: Any
) -> Settings:
    """Settings parsed from `config_toml(...)` (no environment unless given)."""
    return parse_settings(config_toml(data_dir, bootstrap, **tables), env=dict(env or {}))


