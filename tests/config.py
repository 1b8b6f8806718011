"""One config builder for tests: the preamble every test needs, plus the tables the test is about.

    settings = make_settings(tmp_path, broker.bootstrap_servers, sources={"website": {"kind": "form"}},
                             flows=[flow("f", "contact.submitted", action("crm", "upsert_contact"))])

Without `bootstrap` (or a `kafka` table) the config has no [kafka] table, so Handover starts its
embedded broker. Without a `ledger` table the ledger is data_dir/handover.db.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike
from typing import Any

from services.assembly import parse_settings
from services.common.config import Settings

Table = Mapping[str, Any]

# The tests' consumer timings: a member that is gone is noticed within 6 s (default 10), heartbeats each second.
QUICK_REBALANCE: Table = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


def action(target: str, what: str, /, **keys: Any) -> dict[str, Any]:
    """One of a flow's actions: `what` on `target`, with any further keys (name, fields, ...)."""
    return {"target": target, "action": what, **keys}


def flow(name: str, on: str, *actions: Table, when: str = "") -> dict[str, Any]:
    """A [[flows]] entry: on event type `on`, if `when` (a condition; none: always), do `actions`."""
    return {"name": name, "on": on, **({"if": when} if when else {}), "actions": list(actions)}


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


def _table(header: str, table: Table, *, entry: bool = False) -> list[str]:
    """A [table], or with `entry` one [[entry]] of an array of tables."""
    head = f"[[{header}]]" if entry else f"[{header}]"
    return [head, *(f"{_key(k)} = {_value(v)}" for k, v in table.items())]


def _flow(table: Table) -> list[str]:
    """A [[flows]] entry and its [[flows.actions]], as an owner writes them."""
    lines = _table("flows", {k: v for k, v in table.items() if k != "actions"}, entry=True)
    for step in table.get("actions", ()):
        lines += _table("flows.actions", step, entry=True)
    return lines


def config_toml(
    data_dir: str | PathLike[str],
    bootstrap: str = "",
    *,
    server: Table | None = None,
    kafka: Table | None = None,
    ledger: Table | None = None,
    logging: Table | None = None,
    web: Table | None = None,
    sync: Table | None = None,
    notify: Table | None = None,
    sources: Mapping[str, Table] | None = None,
    targets: Mapping[str, Table] | None = None,
    flows: list[Table] | None = None,
) -> str:
    """handover.toml text: data_dir, a server on a free port, the test broker without idempotence
    (Tansu's), and the given tables (their keys as handover.toml spells them)."""
    lines = [f"data_dir = {_value(data_dir)}"]
    lines += _table("server", {"port": 0, **(server or {})})
    if bootstrap or kafka:
        lines += _table("kafka", {"bootstrap_servers": bootstrap, "idempotence": False, **(kafka or {})})
    for header, table in (("ledger", ledger), ("logging", logging), ("web", web), ("sync", sync), ("notify", notify)):
        if table:
            lines += _table(header, table)
    for name, table in (sources or {}).items():
        lines += _table(f"sources.{_key(name)}", table)
    for name, table in (targets or {}).items():
        lines += _table(f"targets.{_key(name)}", table)
    for entry in flows or ():
        lines += _flow(entry)
    return "\n".join(lines) + "\n"


def make_settings(
    data_dir: str | PathLike[str], bootstrap: str = "", *, env: Mapping[str, str] | None = None, **tables: Any
) -> Settings:
    """Settings parsed from `config_toml(...)` (no environment unless given)."""
    return parse_settings(config_toml(data_dir, bootstrap, **tables), env=dict(env or {}))


