"""Connectors: one module per target system, registered here by the `kind` of their class."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from services.sync.connectors.base import Connector
from services.sync.connectors.file import FileConnector
from services.sync.connectors.http import HttpConnector
from services.sync.connectors.hubspot import HubspotConnector
from services.sync.connectors.maildir import MaildirConnector
from services.sync.connectors.moneybird import MoneybirdConnector
from services.sync.connectors.pipedrive import PipedriveConnector
from services.sync.connectors.smtp import SmtpConnector

# Third-party packages add a kind by naming its Connector class under this entry-point group.
ENTRY_POINT_GROUP = "handover.connectors"

CONNECTOR_KINDS: dict[str, type[Connector]] = {
    k.kind: k
    for k in (
        FileConnector, HttpConnector, HubspotConnector, MaildirConnector, MoneybirdConnector, PipedriveConnector,
        SmtpConnector,
    )
}


@cache
def connector_kinds() -> dict[str, type[Connector]]:
    """Every connector kind by name: the built-in ones, then those installed packages register."""
    kinds = dict(CONNECTOR_KINDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Connector) and cls.kind == ep.name):
            raise TypeError(f"entry point {ep.value} ({ENTRY_POINT_GROUP}) is not a Connector of kind {ep.name!r}")
        kinds.setdefault(cls.kind, cls)  # a plug-in never replaces a built-in kind
    return kinds
