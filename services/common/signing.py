"""HMAC-SHA256 signatures: the primitives, Standard Webhooks sign/verify, our own cookies' MACs.

One implementation for both directions: the gateway verifies what vendors (and `standard`
senders) sign, the `http` target signs what it sends. Standard Webhooks
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
`webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>` entries over
f"{webhook-id}.{webhook-timestamp}.{raw body}", keyed by the base64 part of a `whsec_` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 digest."""
    return hmac.new(key, message, hashlib.sha256).digest()


def hmac_sha256_hex(key: bytes, text: str) -> str:
    """HMAC-SHA256 of ASCII text, as hex: the MAC on our own session cookie and CSRF token."""
    return hmac_sha256(key, text.encode("ascii")).hex()


def matches_any(expected: Iterable[bytes], given: bytes) -> bool:
    """Constant-time comparison of `given` against every candidate (no early exit on a match)."""
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(candidate, given)
    return found


def b64decode_or_none(value: str) -> bytes | None:
    """Strict base64 decode; None instead of an exception for garbage."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (ValueError, TypeError):
        return None


def hex_or_none(value: str) -> bytes | None:
    """Strict hex decode; None instead of an exception for garbage."""
    if not _HEX.fullmatch(value):
        return None
    return bytes.fromhex(value)


def standard_key(secret: str) -> bytes | None:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional); None if not base64."""
    return b64decode_or_none(secret.removeprefix("whsec_")) or None


def standard_signed_content(msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    """What a Standard Webhooks signature covers: "{id}.{timestamp}.{body}"."""
    # aiohttp hands header bytes that are not UTF-8 over as surrogate escapes: turned back into
    # the bytes the sender signed, never a UnicodeEncodeError (a 500).
    return f"{msg_id}.{timestamp}.".encode("utf-8", "surrogateescape") + body


def standard_sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256>` of the signed content."""
    digest = hmac_sha256(key, standard_signed_content(msg_id, timestamp, body))
    return "v1," + base64.b64encode(digest).decode()


def standard_verify(keys: Iterable[bytes], msg_id: str, timestamp: str, body: bytes, signatures: str) -> bool:
    """True when any `v1` entry of `signatures` matches any key (other versions are skipped)."""
    signed = standard_signed_content(msg_id, timestamp, body)
    expected = [hmac_sha256(key, signed) for key in keys]
    found = False
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        sig = b64decode_or_none(value) if version == "v1" else None
        if sig:
            found |= matches_any(expected, sig)
    return found
