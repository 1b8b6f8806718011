"""Form data cannot rewrite an http target's URL: values are percent-encoded as one path
segment or query value, and a rendered URL never leaves the target's base (Permanent)."""

from __future__ import annotations

import pytest

from services.assembly import parse_settings
from services.common.errors import ConfigError
from services.flows.compile import idempotency_key
from services.flows.context import event_context
from services.sync.connectors.base import ActionRequest
from services.sync.errors import Permanent
from tests.sync.conftest import contact_event

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the fake receiver checks signatures
HOSTILE = "a@b/../../../admin?x=1#.com"  # passes the form's e-mail check


def flow_request(config: str, email: str) -> ActionRequest:
    """The first action of the config's first flow, rendered for a contact as the runner does."""
    settings = parse_settings(config, env={})
    [flow] = settings.compiled_flows
    action = flow.actions[0]
    event = contact_event(email=email)
    return ActionRequest(
        event=event, flow=flow.name, action=action.config.action, key=action.key,
        idempotency_key=idempotency_key(event, flow.name, action.key),
        fields=action.render(event_context(event)), options={},
    )


def config(target: str, fields: str = "") -> str:
    return f"""
[targets.api]
kind = "http"
headers = {{ Authorization = "Bearer test-token" }}
{target}
[[flows]]
name = "f"
on = "contact.submitted"
[[flows.actions]]
target = "api"
action = "send"
{fields}
"""


async def test_an_address_with_dot_segments_stays_one_path_segment(http_fake, connect) -> None:
    table = {"kind": "http", "base_url": http_fake.url + "/api/v1", "url": "contacts/{{ contact.email }}",
             "headers": {"Authorization": "Bearer test-token"}}
    connector = await connect(table, SECRET)
    request = flow_request(config(f'base_url = "{http_fake.url}/api/v1"\nurl = "contacts/{{{{ contact.email }}}}"'),
                           HOSTILE)
    delivered = await connector.deliver(request)
    (call,) = http_fake.requests
    assert call.path == "/api/v1/contacts/" + HOSTILE  # the whole value, decoded, in its segment
    assert call.query == {}
    assert "%2F..%2F" in delivered.detail and "/admin" not in delivered.detail.split("contacts/")[0]


async def test_a_per_flow_url_encodes_values_too(http_fake, connect) -> None:
    table = {"kind": "http", "base_url": http_fake.url + "/api",
             "headers": {"Authorization": "Bearer test-token"}}
    connector = await connect(table, SECRET)
    request = flow_request(
        config(f'base_url = "{http_fake.url}/api"', 'fields = { url = "people?email={{ contact.email }}" }'),
        "x@y.nl&admin=1",
    )
    await connector.deliver(request)
    (call,) = http_fake.requests
    assert call.path == "/api/people" and call.query == {"email": "x@y.nl&admin=1"}


@pytest.mark.parametrize(("target", "fields", "email"), [
    # A value that is a whole dot segment climbs out of the base.
    ('base_url = "{url}/api/v1"\nurl = "{{{{ contact.email }}}}/x"', "", ".."),
    # A flow's own fixed URL pointing elsewhere.
    ('base_url = "{url}/api/v1"', 'fields = { url = "http://evil.example/steal" }', "a@b.nl"),
])
async def test_a_url_leaving_the_base_is_permanent_and_not_sent(
    http_fake, connect, target: str, fields: str, email: str
) -> None:
    text = config(target.format(url=http_fake.url), fields)
    settings = parse_settings(text, env={})
    connector = await connect({**msgspec_table(settings), "headers": {"Authorization": "Bearer test-token"}}, SECRET)
    with pytest.raises(Permanent, match="leaves"):
        await connector.deliver(flow_request(text, email))
    assert http_fake.requests == []


def msgspec_table(settings) -> dict:
    """The api target's table back as a dict (for the connect fixture)."""
    import msgspec

    return msgspec.to_builtins(settings.targets["api"].config)


def test_a_url_template_with_no_fixed_host_needs_a_base_url() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(config('url = "{{ contact.message }}"'), env={})
    assert err.value.path.startswith("targets.api") and "base_url" in err.value.message
