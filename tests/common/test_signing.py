"""The HMAC primitives against RFC 4231's published vectors, so every signature built on them
(vendor webhooks, our session cookie and CSRF token) keeps its wire format."""

from __future__ import annotations

from services.common.signing import hmac_sha256, hmac_sha256_hex

# RFC 4231 section 4.3, test case 2 (https://www.rfc-editor.org/rfc/rfc4231#section-4.3)
KEY = b"Jefe"
DATA = "what do ya want for nothing?"
HMAC_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_sha256_matches_the_rfc_vector() -> None:
    assert hmac_sha256(KEY, DATA.encode()) == bytes.fromhex(HMAC_SHA256)


def test_hmac_sha256_hex_is_the_same_mac_as_lowercase_hex() -> None:
    assert hmac_sha256_hex(KEY, DATA) == HMAC_SHA256
