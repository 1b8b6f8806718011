"""Sending a message through the target `notify.target` names: smtp, maildir or http.

Only the target's address and credentials are used (not its flows' templates): a mail to the
owner with the message as plain text, or a JSON POST with `text` (what Slack, Mattermost and
Discord-compatible chat webhooks show) and the message's parts for anything else.
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import mailbox
from pathlib import Path

import aiohttp
import aiosmtplib
import msgspec

from services.common.config import NotifyConfig, Settings, TargetSpec
from services.notify.messages import Message


class SendFailed(Exception):
    """The message did not go out (it is tried again at the next check)."""


def _mail(spec: TargetSpec, notify: NotifyConfig, message: Message) -> email.message.EmailMessage:
    # Long lines allowed (RFC 5322: 998): the default 78 folds a long subject before its first
    # word, and some mail apps then show it with a leading space.
    msg = email.message.EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    msg["From"] = getattr(spec.config, "sender", "Handover <handover@localhost>")
    msg["To"] = notify.to
    msg["Subject"] = message.subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="handover.local")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    msg.set_content(message.text)
    return msg


async def send(settings: Settings, message: Message, http: aiohttp.ClientSession) -> None:
    """Send one message to the owner; SendFailed if it did not go out."""
    notify = settings.notify
    spec = settings.targets[notify.target]
    cfg = spec.config
    if spec.kind == "smtp":
        password = spec.secret.reveal() if spec.secret else None
        msg = _mail(spec, notify, message)
        # Flattened here: aiosmtplib's own flattening folds headers at 78 characters.
        raw = msg.as_bytes(policy=email.policy.SMTP.clone(max_line_length=998))  # non-ASCII: RFC 2047
        try:
            await aiosmtplib.send(
                raw, sender=email.utils.parseaddr(str(msg["From"]))[1], recipients=[notify.to],
                hostname=cfg.host, port=cfg.port,  # type: ignore[attr-defined]
                use_tls=cfg.tls == "tls", start_tls=cfg.tls == "starttls",  # type: ignore[attr-defined]
                username=cfg.username or None,  # type: ignore[attr-defined]
                password=password if cfg.username else None,  # type: ignore[attr-defined]
                timeout=cfg.timeout_s,  # type: ignore[attr-defined]
            )  # fmt: skip
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(f"mail to {notify.to} through {spec.name}: {exc}") from exc
    elif spec.kind == "maildir":
        root = Path(getattr(cfg, "path", "") or settings.data_path("mail", spec.name))
        try:
            mailbox.Maildir(root, create=True).add(_mail(spec, notify, message))
        except OSError as exc:
            raise SendFailed(f"cannot write to {root}: {exc.strerror}") from exc
    else:
        await _post(spec, message, http)


async def _post(spec: TargetSpec, message: Message, http: aiohttp.ClientSession) -> None:
    cfg = spec.config
    url: str = getattr(cfg, "url", "")
    base: str = getattr(cfg, "base_url", "")
    if not url or "{{" in url:  # a flow's URL template needs an event: the base URL it is relative to
        url = base
    elif base and not url.startswith(("http://", "https://")):
        url = base.rstrip("/") + "/" + url.lstrip("/")
    secret = spec.secret.reveal() if spec.secret else ""
    headers = {k: v.replace("{secret}", secret) for k, v in getattr(cfg, "headers", {}).items()}
    body = {"text": f"{message.subject}\n\n{message.text}", "subject": message.subject, "body": message.text,
            "kind": message.kind, "key": message.key, "facts": message.facts}  # fmt: skip
    try:
        async with http.post(url, data=msgspec.json.encode(body), timeout=aiohttp.ClientTimeout(total=10),
                             headers={"Content-Type": "application/json", **headers}) as r:  # fmt: skip
            if r.status >= 300:
                raise SendFailed(f"{spec.name} answered {r.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SendFailed(f"{spec.name} unreachable: {exc}") from exc
