"""Prometheus alerts and the Grafana dashboard: valid, unit-tested, and only about real metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from services.assembly import parse_settings
from services.common.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "handover.json"
PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`); YAML checks still ran"
)

# PromQL words that are not metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
NOT_HANDOVER = {"up"}  # Prometheus' own scrape metric

CONFIG = """
[sources.shop]
kind = "shopify"
secret = "x"
[targets.crm]
kind = "file"
[[flows]]
name = "f"
on = "order.created"
[[flows.actions]]
target = "crm"
action = "send"
"""


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",), "info": ("_info",)}


def exported_names() -> set[str]:
    """Every series name a Handover process can expose (with _total, _bucket, ... suffixes),
    taken from the registry's definitions so metrics without a labelled child yet count too."""
    metrics = Metrics()
    metrics.init_labels(parse_settings(CONFIG, env={}))
    names = {s.name for family in metrics.registry.collect() for s in family.samples}
    for family in metrics.registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: strip strings, matchers, ranges, groupings, calls."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        after = text[m.end():].lstrip()
        word = m.group(0)
        if after.startswith("(") or word in KEYWORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def alert_rules() -> list[dict[str, object]]:
    """The rules of alerts.yml."""
    doc = yaml.safe_load((PROM / "alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def dashboard_exprs() -> list[str]:
    """Every query of the dashboard."""
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_metric_name_parser_finds_names_not_functions() -> None:
    expr = 'histogram_quantile(0.9, sum by (target, le) (rate(handover_x_bucket{a="b(c)"}[5m]))) > 300 and up == 0'
    assert metric_names(expr) == {"handover_x_bucket", "up"}


def test_the_new_gauges_and_build_info_are_exported() -> None:
    names = exported_names()
    for name in ("handover_handoffs_incomplete", "handover_source_silence_seconds", "handover_build_info"):
        assert name in names


def test_alerts_cover_the_spec() -> None:
    names = {r["alert"] for r in alert_rules()}
    assert {"HandoverDeadLettersGrowing", "HandoverTargetPaused", "HandoverDeliveryLagHigh",
            "HandoverHandoffsIncomplete", "HandoverSourceSilent", "HandoverGateway5xx"} <= names


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_metric_used_is_one_handover_exports(source: str) -> None:
    exprs = [str(r["expr"]) for r in alert_rules()] if source == "alerts" else dashboard_exprs()
    assert exprs
    used = set().union(*(metric_names(e) for e in exprs))
    unknown = used - exported_names() - NOT_HANDOVER
    assert not unknown, f"{source} uses metrics Handover does not export: {sorted(unknown)}"


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    prov = ROOT / "deploy" / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())
    uid = ds["datasources"][0]["uid"]
    dash = json.loads(DASHBOARD.read_text())
    assert {p["datasource"]["uid"] for p in dash["panels"]} == {uid}
    provider = yaml.safe_load((prov / "dashboards" / "handover.yml").read_text())["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana:{provider['options']['path']}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


@needs_promtool
@pytest.mark.integration  # a spawned tool
def test_promtool_checks_the_rules() -> None:
    result = subprocess.run([PROMTOOL, "check", "rules", "alerts.yml"], cwd=PROM, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.integration  # a spawned tool
def test_promtool_unit_tests_the_alerts() -> None:
    result = subprocess.run([PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=PROM, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (PROM / "alerts_test.yml").read_text()))
    assert len(tested) >= 2
