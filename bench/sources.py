"""What mapping a vendor's own sample webhook costs, in process: the delivery name the gateway
reads from the body (`content_id`) plus `parse`, against a bare JSON decode of the same bytes
(the floor: what any gateway pays to look at the body at all), measured in the same run.

    python -m bench.sources                  # ~20 s
    python -m bench.sources --number 5000 --repeat 9

The samples are the vendors' published ones in tests/fixtures/webhooks (provenance beside
each). Stripe's checkout.session.completed is left out: its mapping fetches line items from
Stripe's API (I/O, measured end to end elsewhere). Each figure is the best of `--repeat` runs of
`--number` calls, a fresh request object each call (nothing is reused between requests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import timeit
from pathlib import Path

if __package__ in (None, ""):  # `python bench/sources.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
from multidict import CIMultiDict

from bench.gateway import machine
from services.common.config import SourceSpec
from services.gateway.sources import source_kinds
from services.gateway.sources.base import Inbound

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "webhooks"

# (label, kind, fixture, headers the vendor sends that parse reads)
SAMPLES = (
    ("shopify orders/create", "shopify", "shopify/orders_create.json", {"X-Shopify-Topic": "orders/create"}),
    ("shopify customers/create", "shopify", "shopify/customers_create.json", {"X-Shopify-Topic": "customers/create"}),
    ("woocommerce order.created", "woocommerce", "woocommerce/order_created.json",
     {"X-WC-Webhook-Topic": "order.created"}),
    ("woocommerce coupon order", "woocommerce", "woocommerce/order_created_coupon.json",
     {"X-WC-Webhook-Topic": "order.created"}),
    ("stripe invoice.paid", "stripe", "stripe/invoice_paid.json", {}),
    ("tally form_response", "tally", "forms/tally_form_response.json", {}),
    ("typeform form_response", "typeform", "forms/typeform_form_response.json", {}),
    ("webflow form_submission", "webflow", "forms/webflow_form_submission.json", {}),
)


def _time(fn: object, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--number", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    kinds = source_kinds()
    now = dt.datetime.now(dt.UTC)
    print(machine())
    print(f"{'sample':28} {'bytes':>7} {'decode µs':>10} {'name+parse µs':>14} {'ratio':>6}")
    for label, kind, fixture, headers in SAMPLES:
        cls = kinds[kind]
        source = cls(SourceSpec(name="bench", config=cls.Config(kind=kind), secrets=()))
        body = (FIXTURES / fixture).read_bytes()
        sent = CIMultiDict(headers)

        def request(body: bytes = body, sent: CIMultiDict[str] = sent) -> Inbound:
            return Inbound(source="bench", headers=sent, body=body, content_type="application/json", received_at=now)

        def handle(source: object = source, request: object = request) -> None:
            inbound = request()  # type: ignore[operator]
            source.content_id(inbound)  # type: ignore[attr-defined]
            source.parse(inbound, "bench")  # type: ignore[attr-defined]

        handle()  # a sample that no longer maps fails here, not as a fast figure
        floor = _time(lambda body=body: msgspec.json.decode(body), args.number, args.repeat)
        cost = _time(handle, args.number, args.repeat)
        print(f"{label:28} {len(body):>7} {floor * 1e6:>10.1f} {cost * 1e6:>14.1f} {cost / floor:>6.1f}")


if __name__ == "__main__":
    main()
