"""Sign a body exactly as each vendor does, and build Inbound requests for the source kinds."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from multidict import CIMultiDict

from services.common.config import SourceConfig, SourceSpec
from services.common.secrets import Secret
from services.gateway.sources import source_kinds
from services.gateway.sources.base import Inbound, Source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
RECEIVED = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
# Every header a vendor signs with or names its delivery by: what the fuzzers vary.
VENDOR_HEADERS = [
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Topic",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-WC-Webhook-Signature",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Delivery-ID",
    "Stripe-Signature",
    "Typeform-Signature",
    "Tally-Signature",
    "x-webflow-signature",
    "x-webflow-timestamp",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
]


def fixture(relative: str) -> bytes:
    """A vendor sample's raw bytes (tests/fixtures/webhooks/<vendor>/<file>)."""
    return (FIXTURES / relative).read_bytes()


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def shopify(secret: str, body: bytes) -> dict[str, str]:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body."""
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(_mac(secret.encode(), body)).decode()}


def woocommerce(secret: str, body: bytes) -> dict[str, str]:
    """X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body."""
    return {"X-WC-Webhook-Signature": base64.b64encode(_mac(secret.encode(), body)).decode()}


def stripe_v1(secret: str, body: bytes, timestamp: int) -> str:
    """One v1 signature: hex HMAC-SHA256 of f"{t}.{body}" with the whsec_ secret as is."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def stripe(secret: str, body: bytes, timestamp: int, *extra: str) -> dict[str, str]:
    """Stripe-Signature: t=<ts>,v1=<hex>[,<extra entries>]."""
    header = ",".join([f"t={timestamp}", f"v1={stripe_v1(secret, body, timestamp)}", *extra])
    return {"Stripe-Signature": header}


def typeform(secret: str, body: bytes) -> dict[str, str]:
    """Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>."""
    sig = base64.b64encode(_mac(secret.encode(), body)).decode()
    return {"Typeform-Signature": f"sha256={sig}"}


def tally(secret: str, body: bytes) -> dict[str, str]:
    """Tally-Signature: base64 HMAC-SHA256 of the raw body."""
    return {"Tally-Signature": base64.b64encode(_mac(secret.encode(), body)).decode()}


def webflow(secret: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
    """x-webflow-timestamp (ms) and x-webflow-signature: hex HMAC of f"{ts}:{body}"."""
    sig = hmac.new(secret.encode(), f"{timestamp_ms}:".encode() + body, hashlib.sha256)
    return {"x-webflow-timestamp": str(timestamp_ms), "x-webflow-signature": sig.hexdigest()}


def standard_v1(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` entry: HMAC-SHA256 keyed by the base64 part of `whsec_...`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = _mac(key, f"{msg_id}.{timestamp}.".encode() + body)
    return "v1," + base64.b64encode(mac).decode()


def standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature headers."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_v1(secret, msg_id, timestamp, body),
    }


def make_source(kind: str, *secrets: str, name: str = "", **config: object) -> Source:
    """A source of `kind` named `name` (default: the kind) with the given active secrets."""
    cls = source_kinds()[kind]
    cfg: SourceConfig = cls.Config(kind=kind, **config)  # type: ignore[arg-type]
    spec = SourceSpec(name=name or kind, config=cfg, secrets=tuple(Secret(s) for s in secrets))
    return cls(spec)


def inbound(
    source: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    received_at: dt.datetime = RECEIVED,
) -> Inbound:
    """An Inbound as the gateway builds it (case-insensitive headers)."""
    hdrs: CIMultiDict[str] = CIMultiDict({"Content-Type": content_type})
    hdrs.update(headers or {})
    return Inbound(
        source=source,
        headers=hdrs,
        body=body,
        content_type=content_type,
        received_at=received_at,
    )
