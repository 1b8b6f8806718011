"""Signature and timestamp checks the signed source kinds share; each failure is a 401 Rejected."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from services.common.signing import b64decode_or_none, hmac_sha256, matches_any, standard_verify
from services.gateway.errors import Rejected, invalid_signature, missing_signature
from services.gateway.sources.base import Inbound, header

_DIGITS = re.compile(r"[0-9]{1,16}")


def unix_seconds(value: str | None) -> int | None:
    """A plain ASCII unsigned integer (seconds or ms since the epoch); None for anything else."""
    if value is None or not _DIGITS.fullmatch(value):
        return None
    return int(value)


def check_timestamp(signed_at: float, now: dt.datetime, tolerance_s: float, header: str) -> None:
    """401 `timestamp_out_of_tolerance` if `signed_at` (unix seconds) is further than the
    tolerance from `now`, in either direction (a tolerance <= 0 disables the check)."""
    if tolerance_s <= 0:
        return
    skew = now.timestamp() - signed_at
    if abs(skew) > tolerance_s:
        raise Rejected(
            401,
            "timestamp_out_of_tolerance",
            f"header {header} is {int(skew)} s from the server clock (tolerance {tolerance_s} s)",
        )


def verify_body_hmac(
    keys: Iterable[bytes], inbound: Inbound, names: Sequence[str], prefix: str = ""
) -> None:
    """The common scheme: header = prefix + base64(HMAC-SHA256(secret, raw body)), no timestamp.

    `names` are alternative header names (the first is the one named in errors).
    """
    given = header(inbound, *names)
    if given is None:
        raise missing_signature(names[0])
    if prefix:
        if not given.startswith(prefix):
            raise invalid_signature(names[0])
        given = given[len(prefix) :]
    signature = b64decode_or_none(given)
    if not signature:
        raise invalid_signature(names[0])
    if not matches_any((hmac_sha256(key, inbound.body) for key in keys), signature):
        raise invalid_signature(names[0])


def verify_standard(
    keys: Iterable[bytes], inbound: Inbound, now: dt.datetime, tolerance_s: float,
    headers: tuple[str, str, str] = ("webhook-id", "webhook-timestamp", "webhook-signature"),
) -> None:
    """Standard Webhooks: id, timestamp and signature headers present, any v1 entry matching any
    key, then the timestamp within tolerance. `headers`: (id, timestamp, signature) names."""
    id_name, ts_name, sig_name = headers
    msg_id, timestamp, signatures = header(inbound, id_name), header(inbound, ts_name), header(inbound, sig_name)
    for name, value in ((sig_name, signatures), (id_name, msg_id), (ts_name, timestamp)):
        if value is None:
            raise missing_signature(name)
    assert msg_id is not None and timestamp is not None and signatures is not None
    seconds = unix_seconds(timestamp)
    if seconds is None:
        raise invalid_signature(ts_name)
    if not standard_verify(keys, msg_id, timestamp, inbound.body, signatures):
        raise invalid_signature(sig_name)
    check_timestamp(seconds, now, tolerance_s, ts_name)
