"""Mails written to a local Maildir instead of sent: the demo's mail target, needing no server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated, ClassVar

from services.common.config import about
from services.common.datadir import open_private
from services.flows.context import event_context
from services.sync.connectors._mail import SEND_EMAIL, CappedMail, MailConfig, build_message
from services.sync.connectors.base import ActionRequest, Connector, Delivered
from services.sync.errors import Transient


class MaildirConfig(MailConfig, frozen=True, kw_only=True):
    """Where the Maildir lives (default: <data_dir>/mail/<target>)."""

    path: Annotated[str, about("The Maildir; empty: <data_dir>/mail/<target>.", "var/mail/office")] = ""


class MaildirConnector(CappedMail, Connector):
    """Writes each mail to <maildir>/new under a name derived from the idempotency key."""

    kind: ClassVar[str] = "maildir"
    Config = MaildirConfig
    actions = {"send_email": SEND_EMAIL}
    idempotency = "natural"  # the file name is the key: a repeat overwrites the same file
    config: MaildirConfig

    async def start(self) -> None:
        """Create the Maildir folders."""
        self.root = Path(self.config.path or self.ctx.data_dir / "mail" / self.name)
        for sub in ("tmp", "new", "cur"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Render the mail and move it into new/ atomically."""
        self.check_recipient_cap(request)  # before anything is sent or written
        msg = build_message(self.config, request, event_context(request.event))
        name = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:40] + ".handover"
        tmp = self.root / "tmp" / name
        try:
            with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as f:
                f.write(msg.as_bytes())
            os.replace(tmp, self.root / "new" / name)
        except OSError as exc:
            raise Transient(f"cannot write to {self.root}: {exc.strerror}") from exc
        return Delivered(external_id=str(msg["Message-ID"]), detail=f"mail to {request.fields['to']}")
