"""The gateway's HTTP error vocabulary: why a webhook is refused, as a status and a stable reason.

    Rejected             an answer with a problem body: status, reason code, detail
                         (`errors` names each invalid field; `headers` e.g. Retry-After)
        invalid()            422 invalid_payload, naming every invalid field
        missing_signature()  401 missing_signature
        invalid_signature()  401 invalid_signature
        too_deep()           400 invalid_body (JSON nested past the decoder's limit)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its JSON path in the payload and why."""

    path: str
    message: str


class Rejected(Exception):
    """The request is refused: an HTTP status, a stable reason code, a human detail."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def invalid(errors: Iterable[FieldError], detail: str = "") -> Rejected:
    """A 422 naming every invalid field."""
    errs = list(errors)
    text = detail or "; ".join(f"{e.path}: {e.message}" for e in errs)
    return Rejected(422, "invalid_payload", text, errs)


def missing_signature(header: str) -> Rejected:
    """401: the signature header is absent."""
    return Rejected(401, "missing_signature", f"header {header} is missing")


def invalid_signature(header: str) -> Rejected:
    """401: the signature does not match any active secret (or is malformed)."""
    return Rejected(401, "invalid_signature", f"header {header} does not match the body")


def too_deep() -> Rejected:
    """400: JSON nested deeper than the decoder's recursion limit (a hostile body, not data)."""
    return Rejected(400, "invalid_body", "body is not valid JSON: nested too deeply")
