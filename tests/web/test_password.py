"""The admin password Handover makes is made once, kept in data_dir (0600), and the login page
says where it is."""

from __future__ import annotations

import stat
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from services.web.password import made_password
from tests.web.conftest import make_app, web_toml


def test_the_made_password_is_kept_owner_only_and_the_same_after_a_restart(tmp_path: Path):
    data_dir = tmp_path / "var"
    first = made_password(data_dir)
    path = data_dir / "admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert path.read_text() == first + "\n" and len(first) >= 16
    assert made_password(data_dir) == first  # the next start reads it back
    path.chmod(0o644)  # a copy someone loosened
    assert made_password(data_dir) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_login_page_says_where_the_made_password_is(tmp_path: Path):
    data_dir = tmp_path / "var"
    made_password(data_dir)
    toml = web_toml(str(data_dir))
    # the config chose no password: only then is the made one the password
    chosen = make_app(toml=toml)
    async with TestClient(TestServer(chosen)) as c:
        assert "admin-password" not in await (await c.get("/login")).text()
    made = make_app(toml=web_toml(str(data_dir), web={"admin_password": None}))
    async with TestClient(TestServer(made)) as c:
        page = await (await c.get("/login")).text()
        assert f"<code>{data_dir / 'admin-password'}</code>" in page
