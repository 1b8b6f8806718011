"""schemathesis against the served /openapi.json: no 5xx, and every answer (status, content type,
headers, body) is one the document promises. The gateway runs in a thread with its own loop,
because schemathesis calls it with blocking `requests`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.common.embedded_broker import EmbeddedBroker
from services.gateway.openapi import openapi_document
from services.gateway.sources import source_kinds
from services.runtime import Parts, Runtime
from tests.gateway import harness
from tests.gateway.harness import ThreadedGateway


@pytest.fixture(scope="module")
def served(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running gateway with every source kind."""
    settings_ = harness.gateway_settings(str(tmp_path_factory.mktemp("oas")), broker.bootstrap_servers)
    runtime = Runtime(settings_, Parts(gateway=True, web=False, sync=False, recorder=False))
    with ThreadedGateway(runtime):
        yield runtime.base_url


def _document() -> dict[str, Any]:
    """The document for the harness config, built as the gateway builds it (needs no server)."""
    settings_ = harness.gateway_settings("/nonexistent", "127.0.0.1:1")
    kinds = source_kinds()
    return openapi_document({name: kinds[spec.kind](spec) for name, spec in settings_.sources.items()})


# Built at import: schemathesis's lazy `from_fixture` does not work with this pytest version; the
# last test checks that the served document is this very document.
DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented_and_none_is_a_5xx(case: Any, served: str) -> None:
    # Schema-valid bodies are not validly *signed* (schemathesis cannot sign), so signed sources
    # rightly refuse them: positive-data acceptance does not apply to them.
    case.call_and_validate(base_url=served, excluded_checks=[positive_data_acceptance])


def test_the_document_lists_every_source_with_its_content_types_and_signature_headers(served: str) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{served}/openapi.json") as r:
        doc = json.load(r)
    assert doc == DOCUMENT
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {f"/hooks/{name}" for name in harness.KIND_OF}
    shop = doc["paths"]["/hooks/shop"]["post"]
    assert list(shop["requestBody"]["content"]) == ["application/json"]
    assert [p["name"] for p in shop["parameters"]] == ["X-Shopify-Hmac-Sha256"]
    std = doc["paths"]["/hooks/std"]["post"]
    assert std["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AnyEvent"}
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} == {p["name"] for p in std["parameters"]}
    woo = doc["paths"]["/hooks/woo"]["post"]["requestBody"]["content"]
    assert set(woo) == {"application/json", "application/x-www-form-urlencoded"}
    for path in doc["paths"].values():
        responses = path["post"]["responses"]
        assert {"200", "202", "413", "415", "422", "429", "503"} <= set(responses)
        assert "Retry-After" in responses["503"]["headers"] and "Retry-After" in responses["429"]["headers"]
    reasons = doc["components"]["schemas"]["Problem"]["properties"]["reason"]["enum"]
    assert {"invalid_signature", "missing_signature", "timestamp_out_of_tolerance", "broker_unavailable"} <= set(
        reasons
    )
    assert "401" not in doc["paths"]["/hooks/website"]["post"]["responses"]  # forms are unsigned
