"""`handover` refuses what it cannot do with a message that says what is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.cli import main
from tests.config import action, config_toml, flow

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def owner_only_file(path: str) -> tuple[int, str]:
    """A file's permission bits and text."""
    return os.stat(path).st_mode & 0o777, Path(path).read_text()


def config(tmp_path: Path, data_dir: Path) -> str:
    """A config file whose ledger is tmp_path/l.db (so a test sees whether anything started)."""
    return write(tmp_path / "handover.toml", config_toml(
        data_dir, ledger={"url": f"sqlite:///{tmp_path}/l.db"}, targets={"crm": {"kind": "file"}},
        flows=[flow("f", "contact.submitted", action("crm", "append"))],
    ))


@pytest.mark.parametrize("command", [["sync", "--target", "crm", "--target", "crn"], ["replay", "crn"]])
def test_an_unknown_target_is_named_and_nothing_starts(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--config", config(tmp_path, tmp_path / "var")]) == 2
    assert "unknown target 'crn'; known: crm" in capsys.readouterr().err
    assert not (tmp_path / "l.db").exists()


@pytest.mark.integration  # `run` starts the embedded broker before it fails
@pytest.mark.usefixtures("restore_structlog")  # `run` configures logging onto the captured stdout
def test_a_data_dir_that_cannot_be_made_is_named_not_blamed_on_the_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("")
    assert main(["run", "--config", config(tmp_path, tmp_path / "afile" / "var")]) == 1
    err = capsys.readouterr().err
    assert "afile" in err and "Not a directory" in err and "cannot listen" not in err, err


@pytest.mark.integration  # a `handover run` subprocess
async def test_handover_run_without_a_password_prints_one_for_this_run_that_opens_the_status_pages(
    tmp_path: Path,
) -> None:
    import asyncio
    import os
    import re
    import signal
    import sys

    import aiohttp

    cfg = write(tmp_path / "handover.toml", config_toml(
        tmp_path / "var", ledger={"url": f"sqlite:///{tmp_path}/l.db"}, sources={"website": {"kind": "form"}}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "run", "--config", cfg, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        banner = ""
        while "Stop with Ctrl-C" not in banner:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, f"handover run exited: {banner}"
            banner += line
        url = re.search(r"Status: +(\S+)/status", banner)
        where = re.search(r"Password: +in (\S+)", banner)  # stdout is not a terminal: kept in a file
        assert url and where, banner
        mode, text = owner_only_file(where[1])
        assert mode == 0o600
        password = re.match(r"(\S+)\n$", text)
        assert password and password[1] not in banner
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # 127.0.0.1
            async with http.get(f"{url[1]}/status", headers={"Accept": "text/html"}) as r:
                assert r.url.path == "/login"  # not open to anyone
                token = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
            assert token
            form = {"csrf_token": token[1], "password": password[1], "next": "/status"}
            async with http.post(f"{url[1]}/login", data=form) as r:
                assert r.status == 200 and r.url.path == "/status", await r.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


def _config_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> object:
    """The handover.toml JSON Schema `handover schemas` writes, as a validator."""
    import json

    import jsonschema_rs  # comes with schemathesis (the test extra)

    assert main(["schemas", "--out", str(tmp_path / "out")]) == 0
    assert str(tmp_path / "out" / "handover.schema.json") in capsys.readouterr().out
    return jsonschema_rs.validator_for(json.loads((tmp_path / "out" / "handover.schema.json").read_text()))


def test_the_exported_config_schema_accepts_the_demo_and_the_deployed_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import msgspec

    from services.common.config import demo_config_text

    validator = _config_schema(tmp_path, capsys)
    for text in (demo_config_text(), (ROOT / "deploy" / "handover.toml").read_text()):
        doc = msgspec.toml.decode(text.encode())
        assert not [e.message for e in validator.iter_errors(doc)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("toml", "refused_by_handover"),
    [
        ('[targets.books]\nkind = "moneybird"\nsecret = "t"\n', "targets.books.administration_id"),  # required
        ('[sources.web]\nkind = "form"\nthank_you = "https://x"\n', "sources.web.thank_you"),  # another kind's key?
        ('[targets.crm]\nkind = "fil"\n', "targets.crm.kind"),
        ('[sources.shop]\nkind = "shopify"\nmax_body_bytes = 0\n', "sources.shop.max_body_bytes"),
        ("[kafka]\npartitions = 0\n", "kafka.partitions"),
    ],
)
def test_the_exported_config_schema_refuses_what_handover_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, refused_by_handover: str
) -> None:
    import msgspec

    from services.assembly import parse_settings
    from services.common.errors import ConfigError

    validator = _config_schema(tmp_path, capsys)
    with pytest.raises(ConfigError) as refused:
        parse_settings(toml, env={})
    assert refused.value.path == refused_by_handover
    assert not validator.is_valid(msgspec.toml.decode(toml.encode()))  # type: ignore[attr-defined]


def test_check_explain_describes_a_kinds_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--explain", "moneybird"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('[targets.<name>]  kind = "moneybird"')
    assert "  administration_id: string, required\n      The Moneybird administration to book in." in out
    assert '  base_url: string, default "https://moneybird.com/api/v2"' in out
    assert 'e.g. tax_rates = { "21" = "<tax_rate_id>"' in out
    assert "  secret_env: string" in out  # the keys every target takes, too

    assert main(["check", "--explain", "form"]) == 0
    assert "  honeypot_field: string, default \"_gotcha\"" in capsys.readouterr().out


def test_check_explain_names_the_known_kinds_for_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--explain", "mailchimp"]) == 2
    err = capsys.readouterr().err
    assert "unknown kind 'mailchimp'" in err and "moneybird" in err and "shopify" in err
