"""Source kinds: one module per vendor, registered here by the `kind` of their `Source` class."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from services.gateway.sources.base import Source
from services.gateway.sources.form import FormSource
from services.gateway.sources.shopify import ShopifySource
from services.gateway.sources.standard import StandardSource
from services.gateway.sources.stripe import StripeSource
from services.gateway.sources.tally import TallySource
from services.gateway.sources.typeform import TypeformSource
from services.gateway.sources.webflow import WebflowSource
from services.gateway.sources.woocommerce import WooCommerceSource

# Third-party packages add a kind by naming its Source class under this entry-point group.
ENTRY_POINT_GROUP = "handover.sources"

SOURCE_KINDS: dict[str, type[Source]] = {
    k.kind: k
    for k in (
        FormSource, ShopifySource, StandardSource, StripeSource, TallySource, TypeformSource, WebflowSource,
        WooCommerceSource,
    )
}


@cache
def source_kinds() -> dict[str, type[Source]]:
    """Every source kind by name: the built-in ones, then those installed packages register."""
    kinds = dict(SOURCE_KINDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Source) and cls.kind == ep.name):
            raise TypeError(f"entry point {ep.value} ({ENTRY_POINT_GROUP}) is not a Source of kind {ep.name!r}")
        kinds.setdefault(cls.kind, cls)  # a plug-in never replaces a built-in kind
    return kinds
