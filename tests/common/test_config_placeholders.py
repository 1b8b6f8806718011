"""`handover check` refuses the README's placeholders, naming the key that still holds one."""

from __future__ import annotations

import pytest

from services.assembly import parse_settings
from services.common.errors import ConfigError

README_MONEYBIRD = """
[targets.books]
kind = "moneybird"
administration_id = "123456789012345678"
secret = "tok"
tax_rates = { "21" = "<tax_rate_id>", "9" = "<tax_rate_id>", "0" = "<tax_rate_id>" }
"""


def test_the_readmes_tax_rate_placeholder_is_refused_by_key() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings(README_MONEYBIRD, env={})
    assert str(exc.value) == (
        "targets.books.tax_rates.21: still holds the placeholder <tax_rate_id> from the README: put your own value here"
    )


def test_filled_in_values_and_mail_addresses_pass() -> None:
    filled = README_MONEYBIRD.replace("<tax_rate_id>", "398117396012860836")
    mail = '[targets.mail]\nkind = "maildir"\nsender = "Shop <hello@shop.example>"\n'
    settings = parse_settings(filled + mail, env={})
    assert settings.targets["books"].kind == "moneybird"
    with pytest.raises(ConfigError, match=r"^server\.public_url: still holds the placeholder <your host>"):
        parse_settings('[server]\npublic_url = "https://<your host>"\n', env={})
