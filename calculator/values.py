"""Value types shared by the calculator: estimates with provenance, and the validation error."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, NamedTuple

import msgspec

# The page shows one of these badges next to every number so nobody mistakes a guess for a fact.
Provenance = Literal["measured", "typed", "default"]


class Estimate(msgspec.Struct, frozen=True):
    """A three-point estimate (low, likely, high) with its badge and, for defaults, its source."""

    low: Decimal
    likely: Decimal
    high: Decimal
    provenance: Provenance = "typed"
    source: str = ""

    @classmethod
    def point(cls, value: Decimal, provenance: Provenance = "typed", source: str = "") -> Estimate:
        """Build an estimate with no spread: low = likely = high = value."""
        return cls(value, value, value, provenance, source)

    def scaled(self, factor: Decimal, provenance: Provenance, source: str) -> Estimate:
        """Return every point multiplied by factor, with a new badge and source."""
        return Estimate(
            self.low * factor, self.likely * factor, self.high * factor, provenance, source
        )


class Figure(msgspec.Struct, frozen=True):
    """A single number with its badge and source (settings and per-field averages)."""

    value: Decimal
    provenance: Provenance = "typed"
    source: str = ""


class FieldError(NamedTuple):
    """One problem with one input field, named as in the form: handovers[0].volume.likely."""

    path: str
    message: str


class ValidationError(ValueError):
    """Raised with every field problem found, so a form or a 422 response can name each field."""

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in self.errors))

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        """Return the errors in a JSON-ready shape for an HTTP 422 body."""
        return {"errors": [{"field": e.path, "message": e.message} for e in self.errors]}
