"""Building a confirmation mail from Jinja2 templates (shared by the smtp and maildir targets)."""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.common.config import TargetConfig
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

    sender: str = "Handover <handover@localhost>"
    template_dir: str = ""  # extra templates, looked up before the built-in ones


@cache
def _environment(template_dir: str) -> ImmutableSandboxedEnvironment:
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    loaders.append(jinja2.PackageLoader("services.sync", "templates"))
    return ImmutableSandboxedEnvironment(
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
