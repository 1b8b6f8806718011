"""An optional captcha check for form sources: the widget's token, verified with its vendor.

The browser widget puts a token in a form field; the gateway posts it to the vendor's siteverify
endpoint before anything is published. A token the vendor refuses is answered 403
`captcha_failed`; a vendor that does not answer (or refuses our own key) 503
`captcha_unavailable`, so the form fails closed and the sender may retry.

    turnstile        https://developers.cloudflare.com/turnstile/get-started/server-side-validation/
    hcaptcha         https://docs.hcaptcha.com/#verify-the-user-response-server-side
    friendlycaptcha  https://developer.friendlycaptcha.com/docs/v2/getting-started/verify (v2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from services.common.secrets import Secret
from services.gateway.errors import FieldError, Rejected

RETRY_AFTER_S = 5


class CaptchaConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[sources.<name>.captcha]`: which vendor, its secret, and (optionally) the site key."""

    provider: str  # turnstile | hcaptcha | friendlycaptcha
    secret: str = ""  # Turnstile/hCaptcha secret key; Friendly Captcha API key
    secret_env: str = ""
    sitekey: str = ""  # hCaptcha and Friendly Captcha check the token was made for it
    verify_url: str = ""  # empty: the vendor's siteverify endpoint (set for tests and EU hosts)
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"unknown captcha provider {self.provider!r}; known: {', '.join(sorted(PROVIDERS))}")
        if self.provider == "friendlycaptcha" and not self.sitekey:
            raise ValueError("friendlycaptcha needs sitekey")
        if not (self.secret or self.secret_env):
            raise ValueError("set secret or secret_env (the vendor's secret key)")


@dataclass(frozen=True)
class Provider:
    """How one vendor takes a token and says yes."""

    field: str  # the form field its widget fills in
    url: str
    json: bool  # request body as JSON (else form-encoded)


PROVIDERS = {
    # Accepts form-encoded or JSON; answers {"success": bool, "error-codes": [...]}.
    "turnstile": Provider("cf-turnstile-response", "https://challenges.cloudflare.com/turnstile/v0/siteverify", False),
    # Form-encoded only; answers {"success": bool, "error-codes": [...]}.
    "hcaptcha": Provider("h-captcha-response", "https://api.hcaptcha.com/siteverify", False),
    # v2: JSON with the API key in X-API-Key; answers {"success": bool, "error": {"error_code": ...}},
    # 401 for a wrong API key.
    "friendlycaptcha": Provider("frc-captcha-response", "https://global.frcapi.com/api/v2/captcha/siteverify", True),
}


def token_field(config: CaptchaConfig) -> str:
    """The form field that carries the widget's token."""
    return PROVIDERS[config.provider].field


def _request(config: CaptchaConfig, secret: str, token: str, remote_ip: str) -> dict[str, Any]:
    provider = PROVIDERS[config.provider]
    url = config.verify_url or provider.url
    if config.provider == "friendlycaptcha":
        return {"url": url, "json": {"response": token, "sitekey": config.sitekey}, "headers": {"X-API-Key": secret}}
    data = {"secret": secret, "response": token, "remoteip": remote_ip}
    if config.sitekey:
        data["sitekey"] = config.sitekey
    return {"url": url, "data": data}


def _unavailable(detail: str) -> Rejected:
    return Rejected(503, "captcha_unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_S)})


async def verify_captcha(
    session: aiohttp.ClientSession, config: CaptchaConfig, secret: Secret, token: str, remote_ip: str
) -> None:
    """Return when the vendor accepts the token; raise Rejected (403 or 503) otherwise."""
    name = token_field(config)
    if not token:
        raise Rejected(403, "captcha_failed", "the captcha was not solved",
                       errors=[FieldError(f"$.{name}", "is required")])
    if len(token) > 4096:  # Turnstile's are at most 2048 characters
        raise Rejected(403, "captcha_failed", "the captcha answer is not valid",
                       errors=[FieldError(f"$.{name}", "is too long")])
    try:
        async with session.post(
            **_request(config, secret.reveal(), token, remote_ip),
            timeout=aiohttp.ClientTimeout(total=config.timeout_s),
        ) as response:
            status = response.status
            raw = await response.read()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise _unavailable(f"the captcha could not be checked ({type(exc).__name__}); please retry") from exc
    try:
        answer = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        answer = None
    if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        raise _unavailable(f"the captcha could not be checked ({config.provider} answered {status}); please retry")
    if not answer["success"]:
        codes = answer.get("error-codes") or (answer.get("error") or {}).get("error_code") or "refused"
        raise Rejected(403, "captcha_failed", "the captcha answer was not accepted",
                       errors=[FieldError(f"$.{name}", f"not accepted ({codes})")])
