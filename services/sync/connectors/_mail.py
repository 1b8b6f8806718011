"""Building a confirmation mail from Jinja2 templates, and the per-recipient cap on mails that
anyone on the internet can cause (shared by the smtp and maildir targets)."""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import jinja2

from services.common.config import AtLeast0, TargetConfig, about
from services.flows.templates import BoundedSandbox
from services.sync.connectors.base import ActionRequest, ActionSpec
from services.sync.errors import Permanent

SEND_EMAIL = ActionSpec(
    description="send an e-mail rendered from text and HTML templates",
    required=("to", "subject"),
    defaults={
        "to": "{{ person.email }}",
        "to_name": "{{ person.display_name }}",
        "subject": "Thank you for your message, {{ person.first_name or person.display_name }}",
    },
    optional=("reply_to", "cc"),
)


class MailConfig(TargetConfig, frozen=True, kw_only=True):
    """Who mails come from and where custom templates live."""

    sender: Annotated[str, about("The From address.", "Acme <office@acme.example>")] = "Handover <handover@localhost>"
    template_dir: Annotated[str, about("A directory of mail templates, looked up before the built-in ones.")] = ""
    # A public form lets anyone name the address a confirmation goes to: at most this many mails
    # per recipient in 24 hours for the event types below (0: no cap). Signed vendor forms
    # (Typeform, Tally, Webflow) are just as public as our own, so the cap is by event type.
    max_mails_per_recipient_per_day: Annotated[int, AtLeast0, about(
        "Mails one address may get in 24 hours for the capped event types; 0: no cap."
    )] = 3
    capped_events: Annotated[tuple[str, ...], about("The event types the cap applies to.")] = ("contact.submitted",)


@cache
def _environment(template_dir: str) -> BoundedSandbox:
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    loaders.append(jinja2.PackageLoader("services.sync", "templates"))
    return BoundedSandbox(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def message_id(idempotency_key: str) -> str:
    """A Message-ID derived from the idempotency key: a resend is recognisably the same mail."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@handover.invalid>"


def mailbox(name: str, address: str) -> str:
    """`"Name" <address>`; written by hand because the stdlib refuses non-ASCII local parts,
    which SMTPUTF8 (RFC 6531) servers accept and people do have."""
    address = address.strip()
    if any(c in address for c in "<>\r\n,\"") or address.count("@") != 1:
        raise Permanent(f"not a mail address: {address!r}")
    if not name:
        return address
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return f'"{quoted}" <{address}>'


def build_message(config: MailConfig, request: ActionRequest, context: dict[str, Any]) -> EmailMessage:
    """Render the text and HTML parts and address the mail."""
    template = str(request.options.get("template", "confirmation"))
    env = _environment(config.template_dir)
    ctx = {**context, "fields": request.fields}
    try:
        text = env.get_template(f"{template}.txt").render(ctx)
        html = env.get_template(f"{template}.html").render(ctx)
    except jinja2.TemplateNotFound as exc:
        raise Permanent(f"mail template not found: {exc.name}") from exc
    except jinja2.TemplateError as exc:
        raise Permanent(f"mail template {template} failed: {exc}") from exc
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = config.sender
    to_name = request.fields.get("to_name", "")
    msg["To"] = mailbox(to_name, request.fields["to"])
    for header in ("cc", "reply_to"):
        if request.fields.get(header):
            msg[header.replace("_", "-").title()] = request.fields[header]
    msg["Subject"] = request.fields["subject"]
    msg["Message-ID"] = message_id(request.idempotency_key)
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["X-Handover-Event"] = request.event.id
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg


def template_names(config: MailConfig) -> list[str]:
    """Templates available to this target (for config checks and the README)."""
    env = _environment(config.template_dir)
    return sorted({Path(n).stem for n in env.list_templates()})


class RecipientCap:
    """Mails per recipient in a sliding day, counted once per idempotency key (a retry or replay
    of the same mail is not a new one). In memory: a restart forgets; events are keyed by the
    contact's address, so one recipient's mails go through one sync replica."""

    def __init__(self, per_day: int, clock: Callable[[], float] = time.time, max_recipients: int = 100_000) -> None:
        self.per_day = per_day
        self.clock = clock
        self.max_recipients = max_recipients
        self._sent: OrderedDict[str, dict[str, float]] = OrderedDict()  # address -> {key: when}

    def _recent(self, address: str, now: float) -> dict[str, float]:
        keys = self._sent.get(address, {})
        return {k: t for k, t in keys.items() if t > now - 86_400}

    def admit(self, addresses: Iterable[str], key: str) -> str | None:
        """Count this mail for each address and return None; or the first address over its cap
        (counting nothing)."""
        now = self.clock()
        wanted = {a.strip().lower() for a in addresses if a.strip()}
        recent = {a: self._recent(a, now) for a in wanted}
        for address, keys in sorted(recent.items()):
            if key not in keys and len(keys) >= self.per_day:
                return address
        for address, keys in recent.items():
            keys[key] = now
            self._sent[address] = keys
            self._sent.move_to_end(address)
        while len(self._sent) > self.max_recipients:
            self._sent.popitem(last=False)  # the longest-quiet recipient
        return None


class CappedMail:
    """Mixin for mail connectors: refuse, visibly, a mail over its recipient's daily cap."""

    config: MailConfig
    name: str
    _cap: RecipientCap | None = None

    def check_recipient_cap(self, request: ActionRequest) -> None:
        """Raise Permanent (the action is dead-lettered, on /dead-letters) when over the cap."""
        cfg = self.config
        if not cfg.max_mails_per_recipient_per_day or request.event.type not in cfg.capped_events:
            return
        if self._cap is None:
            self._cap = RecipientCap(cfg.max_mails_per_recipient_per_day)
        addresses = [request.fields.get("to", ""), *request.fields.get("cc", "").split(",")]
        capped = self._cap.admit(addresses, request.idempotency_key)
        if capped is not None:
            raise Permanent(
                f"not sent: {capped} already got {cfg.max_mails_per_recipient_per_day} mails caused by "
                f"{request.event.type} in the last 24 hours (targets.{self.name}.max_mails_per_recipient_per_day); "
                "replay it if it is genuine"
            )
