"""Contact forms hosted by a vendor (typeform, tally, webflow): which answer is the e-mail,
the name, the consent, guessed from each field's label; the one event a submission becomes."""

from __future__ import annotations

import datetime as dt
import re

from schemas import AnyEvent, ContactData, ContactSubmitted, Person
from services.gateway.sources.base import Inbound, to_utc

_ROLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("email", "e mail", "mail", "e mail address", "email address")),
    ("phone", ("phone", "telephone", "tel", "mobile", "phone number", "telefon", "handy")),
    ("first_name", ("first name", "firstname", "given name", "vorname", "forename")),
    ("last_name", ("last name", "lastname", "surname", "family name", "nachname")),
    ("company", ("company", "organisation", "organization", "firma", "company name")),
    ("message", ("message", "comment", "comments", "nachricht", "enquiry", "inquiry")),
    ("consent", ("consent", "gdpr", "privacy", "agree", "i agree", "datenschutz", "terms")),
    ("name", ("name", "full name", "your name", "your full name")),
)
_TRUTHY = frozenset({"1", "true", "yes", "on", "y", "ja", "checked", "accepted"})


def contact_role(label: str) -> str:
    """Which contact attribute a form field holds, guessed from its label/ref/name ('' if none).

    Whole words only: "Phone Number" is a phone, "What's your full name?" a name, "Username"
    nothing.
    """
    words = re.sub(r"[^0-9a-z]+", " ", label.lower()).strip()
    padded = f" {words} "
    for role, phrases in _ROLE_WORDS:
        if any(f" {phrase} " in padded for phrase in phrases):
            return role
    return ""


class ContactBuilder:
    """Collects a form's answers: the first value of each contact role, the rest as `fields`."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.fields: dict[str, str] = {}
        self.consent = False

    def add(self, role: str, label: str, value: str, flag: bool | None = None) -> None:
        """One answer; `flag` is a boolean answer (checkbox) where the vendor gives one."""
        if role == "consent":
            given = flag if flag is not None else value.strip().lower() in _TRUTHY
            self.consent = self.consent or given
            return
        if role and role not in self.values and value:
            self.values[role] = value
            return
        key = label or role or "field"
        self.fields[key] = f"{self.fields[key]}\n{value}" if key in self.fields else value

    def person(self, external_id: str = "") -> Person:
        """The contact as a Person (text exactly as submitted)."""
        v = self.values
        return Person(
            email=v.get("email", "").strip(),
            first_name=v.get("first_name", ""),
            last_name=v.get("last_name", ""),
            name=v.get("name", ""),
            phone=v.get("phone", ""),
            company=v.get("company", ""),
            external_id=external_id,
        )

    def data(self, form: str, external_id: str = "") -> ContactData:
        """The ContactData of the submission."""
        return ContactData(
            contact=self.person(external_id),
            message=self.values.get("message", ""),
            form=form,
            consent=self.consent,
            fields=self.fields,
        )


def contact_submitted(
    source: str, event_id: str, inbound: Inbound, data: ContactData, occurred: dt.datetime | None
) -> list[AnyEvent]:
    """The one contact.submitted event a form builder's submission becomes."""
    return [
        ContactSubmitted(
            id=event_id,
            source=source,
            time=to_utc(occurred) or inbound.received_at,
            subject=data.contact.email.lower(),
            received_at=inbound.received_at,
            data=data,
        )
    ]
