"""The dependency floors sit past the published advisories that touch what Handover exposes:
aiohttp's HTTP parser (the public webhook port) and Jinja's sandbox (config templates)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

FLOORS = {"aiohttp": (3, 14, 3), "jinja2": (3, 1, 6)}


def _tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def test_pyproject_floors_are_past_the_advisories() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in project["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([\d.]+)", requirement)
        if m:
            floors[m.group(1).lower()] = _tuple(m.group(2))
    for name, minimum in FLOORS.items():
        assert floors[name] >= minimum, name


def test_the_installed_versions_meet_the_floors() -> None:
    for name, minimum in FLOORS.items():
        assert _tuple(version(name)) >= minimum, name
