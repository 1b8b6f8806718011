"""E-mail through an SMTP server (aiosmtplib): plain, STARTTLS or implicit TLS, with auth."""

from __future__ import annotations

from typing import Annotated, ClassVar

import aiosmtplib

from services.common.config import Port, Positive, about
from services.flows.context import event_context
from services.sync.connectors._mail import SEND_EMAIL, CappedMail, MailConfig, build_message
from services.sync.connectors.base import ActionRequest, Connector, Delivered
from services.sync.errors import Permanent, Transient


class SmtpConfig(MailConfig, frozen=True, kw_only=True):
    """The SMTP server; `secret`/`secret_env` is the password."""

    host: Annotated[str, about("The SMTP server.", "smtp.example.com")] = "127.0.0.1"
    port: Annotated[int, Port, about("Its port.", 587)] = 25
    tls: Annotated[str, about("none, starttls or tls (implicit TLS, usually port 465).", "starttls")] = "none"
    username: Annotated[str, about("The login; empty: send without one.", "handover@example.com")] = ""
    timeout_s: Annotated[float, Positive, about("Seconds per connection and command.")] = 30.0


class SmtpConnector(CappedMail, Connector):
    """Sends each mail once; SMTP has no idempotency, so the ledger brackets the call."""

    kind: ClassVar[str] = "smtp"
    Config = SmtpConfig
    actions = {"send_email": SEND_EMAIL}
    idempotency = "none"
    config: SmtpConfig

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Render and send; 4xx replies and connection trouble are transient, 5xx permanent."""
        self.check_recipient_cap(request)  # before anything is sent or written
        msg = build_message(self.config, request, event_context(request.event))
        cfg = self.config
        password = self.spec.secret.reveal() if self.spec.secret else None
        try:
            await aiosmtplib.send(
                msg,
                hostname=cfg.host,
                port=cfg.port,
                use_tls=cfg.tls == "tls",
                start_tls=True if cfg.tls == "starttls" else False,
                username=cfg.username or None,
                password=password if cfg.username else None,
                timeout=cfg.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(500 <= c < 600 for c in codes):
                raise Permanent(f"recipient refused: {exc}") from exc
            raise Transient(f"recipient deferred: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise Permanent(f"SMTP {exc.code}: {exc.message}", status=exc.code) from exc
            raise Transient(f"SMTP {exc.code}: {exc.message}", status=exc.code) from exc
        except UnicodeEncodeError as exc:
            # A non-ASCII address needs SMTPUTF8 (RFC 6531); a server without it cannot take it.
            raise Permanent(f"{cfg.host}:{cfg.port} does not accept non-ASCII addresses (SMTPUTF8)") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise Transient(f"SMTP {cfg.host}:{cfg.port} unreachable: {exc}") from exc
        return Delivered(external_id=str(msg["Message-ID"]), detail=f"mail to {request.fields['to']}")
