"""docker-compose.yml parses, and every Handover command it runs exists and gets a valid config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from services.assembly import load_settings
from services.cli import _parser

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, object]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def handover_services() -> dict[str, dict[str, object]]:
    return {
        name: svc for name, svc in compose()["services"].items()  # type: ignore[attr-defined]
        if svc.get("image") == "handover-hub:latest"
    }


def test_compose_file_is_valid_yaml_with_kafka_postgres_and_prometheus() -> None:
    services = compose()["services"]
    assert {"kafka", "postgres", "prometheus", "grafana"} <= set(services)  # type: ignore[arg-type]
    kafka_env = services["kafka"]["environment"]  # type: ignore[index]
    assert "broker,controller" in kafka_env["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper


def test_every_handover_command_in_compose_exists_in_the_cli() -> None:
    parser = _parser()
    services = handover_services()
    assert {"gateway", "sync", "web", "recorder"} <= set(services)
    for name, svc in services.items():
        command = svc["command"]
        assert isinstance(command, list)
        args = parser.parse_args(command)  # exits (fails the test) on an unknown command or flag
        assert args.command == command[0], name


def test_the_config_compose_mounts_passes_handover_check() -> None:
    env = handover_services()["gateway"]["environment"]
    assert isinstance(env, dict)
    settings = load_settings(str(ROOT / "deploy" / "handover.toml"), env={
        **{k: str(v) for k, v in env.items()}, "HANDOVER_ADMIN_PASSWORD": "x", "HANDOVER_API_TOKEN": "y",
    })
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.ledger.url.startswith("postgresql://")


def test_the_web_apps_try_form_posts_to_the_gateways_published_port() -> None:
    services = handover_services()
    gateway_port = services["gateway"]["ports"][0].split(":")[0]  # type: ignore[index]
    env = services["web"]["environment"]
    assert isinstance(env, dict)
    assert env["HANDOVER_SERVER_GATEWAY_URL"] == f"http://localhost:{gateway_port}"
    assert env["HANDOVER_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"  # the shared settings are kept


def test_sync_runs_more_than_one_replica() -> None:
    assert handover_services()["sync"]["deploy"]["replicas"] >= 2  # type: ignore[index]


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed; the YAML checks above still ran",
)
@pytest.mark.integration  # a spawned tool
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_image_gives_its_user_the_data_dir_the_volume_is_mounted_on() -> None:
    # No container engine here: check the Dockerfile says what makes a new named volume writable.
    settings = load_settings(str(ROOT / "deploy" / "handover.toml"), env={
        "HANDOVER_ADMIN_PASSWORD": "x", "HANDOVER_API_TOKEN": "y"})
    mounts = [v for v in handover_services()["gateway"]["volumes"] if v.startswith("handover-data:")]  # type: ignore[union-attr]
    assert mounts == [f"handover-data:{settings.data_dir}"]
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    user_at = next(i for i, ln in enumerate(lines) if ln.startswith("USER "))
    user = lines[user_at].split()[1]
    made = [ln for ln in lines[:user_at] if ln.startswith("RUN ")]
    assert any(f"mkdir -p {settings.data_dir}" in ln and f"chown {user}:{user} {settings.data_dir}" in ln
               for ln in made), "the data_dir must exist in the image, owned by the user the services run as"


def test_compose_has_no_default_credentials_for_its_published_ports() -> None:
    env = handover_services()["web"]["environment"]
    assert isinstance(env, dict)
    for name in ("HANDOVER_ADMIN_PASSWORD", "HANDOVER_API_TOKEN", "HANDOVER_SESSION_SECRET"):
        assert str(env[name]).startswith(f"${{{name}:?"), f"{name} must be required, not defaulted: {env[name]}"


def test_metrics_and_the_owners_pages_are_on_a_port_published_only_on_loopback() -> None:
    from services.common.config import listen_address

    settings = load_settings(str(ROOT / "deploy" / "handover.toml"), env={
        "HANDOVER_ADMIN_PASSWORD": "x", "HANDOVER_API_TOKEN": "y", "HANDOVER_SESSION_SECRET": "z",
    })
    ops = listen_address(settings.server.ops_listen)
    assert ops is not None and ops[1] != settings.server.port
    published = [str(p) for svc in handover_services().values() for p in svc.get("ports", [])]  # type: ignore[attr-defined]
    ops_ports = [p for p in published if p.endswith(f":{ops[1]}")]
    assert ops_ports and all(p.startswith("127.0.0.1:") for p in ops_ports)
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["dns_sd_configs"][0]["port"] == ops[1]
