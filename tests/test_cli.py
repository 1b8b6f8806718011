"""`handover` refuses what it cannot do with a message that says what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import main

CONFIG = """\
data_dir = "{data_dir}"
[server]
port = 0
[ledger]
url = "sqlite:///{tmp}/l.db"
[targets.crm]
kind = "file"
[[flows]]
name = "f"
on = "contact.submitted"
[[flows.actions]]
target = "crm"
action = "append"
"""


def config(tmp_path: Path, data_dir: Path) -> str:
    path = tmp_path / "handover.toml"
    path.write_text(CONFIG.format(data_dir=data_dir, tmp=tmp_path))
    return str(path)


@pytest.mark.parametrize("command", [["sync", "--target", "crm", "--target", "crn"], ["replay", "crn"]])
def test_an_unknown_target_is_named_and_nothing_starts(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--config", config(tmp_path, tmp_path / "var")]) == 2
    assert "unknown target 'crn'; known: crm" in capsys.readouterr().err
    assert not (tmp_path / "l.db").exists()


def test_a_data_dir_that_cannot_be_made_is_named_not_blamed_on_the_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("")
    assert main(["run", "--config", config(tmp_path, tmp_path / "afile" / "var")]) == 1
    err = capsys.readouterr().err
    assert "afile" in err and "Not a directory" in err and "cannot listen" not in err, err
