"""The checker itself, on small hand-made runs: it must pass a clean run and catch every fault."""

from __future__ import annotations

from tests.chaos.checker import (
    Answer,
    DeadLetterSeen,
    OffsetSnapshot,
    Published,
    Sent,
    TargetCall,
    VendorAction,
    check,
    check_vendor_effects,
)

TOPIC = "handover.events.order.created"


def clean_run() -> tuple[list[Sent], list[Published], list[TargetCall], list[DeadLetterSeen]]:
    """Two orders, one resent; e1 delivered after a 500, e2 dead-lettered with a reason."""
    sent = [
        Sent("d1", "shop", answers=[Answer(0), Answer(202, event_ids=["e1"]), Answer(200, event_ids=["e1"])]),
        Sent("d2", "woo", answers=[Answer(503, {"Retry-After": "5"}), Answer(202, event_ids=["e2"])]),
        Sent("h1", "shop", valid=False, marker="HOSTILE-1", answers=[Answer(401, reason="invalid_signature")]),
    ]
    published = [
        Published(TOPIC, 0, 0, "e1", [("alpha", "e1:f:a")], b'{"id":"e1"}'),
        Published(TOPIC, 0, 1, "e2", [("alpha", "e2:f:a")], b'{"id":"e2"}'),
    ]
    calls = [
        TargetCall("alpha", "e1:f:a", 500, False, 1.0),
        TargetCall("alpha", "e1:f:a", 201, True, 2.0),
        TargetCall("alpha", "e2:f:a", 422, False, 2.5),
    ]
    dead = [DeadLetterSeen("alpha", "e2:f:a", "e2", "Permanent: 422 nope", 3.0)]
    return sent, published, calls, dead


def test_a_clean_run_passes_and_counts_what_happened() -> None:
    sent, published, calls, dead = clean_run()
    s = check(sent, published, calls, dead, [OffsetSnapshot(3.5, "alpha", TOPIC, 0, 2)])
    assert s.ok, s.table()
    assert (s.sent, s.hostile, s.accepted, s.requests) == (3, 1, 2, 6)
    assert s.delivered == {"alpha": 1} and s.deadlettered == 1
    assert s.rejected == {"conn-error": 1, "503": 1, "401 invalid_signature": 1}
    assert "verdict" in s.table() and "PASS" in s.table()


def test_a_duplicate_effect_is_caught() -> None:
    sent, published, calls, dead = clean_run()
    calls.append(TargetCall("alpha", "e1:f:a", 201, True, 4.0))
    s = check(sent, published, calls, dead)
    assert s.duplicates == 1 and not s.ok
    assert "FAIL" in s.table()


def test_a_resend_that_became_a_second_event_is_a_duplicate() -> None:
    sent, published, calls, dead = clean_run()
    sent[0].answers.append(Answer(202, event_ids=["e1-again"]))
    published.append(Published(TOPIC, 1, 0, "e1-again", [("alpha", "e1-again:f:a")]))
    calls.append(TargetCall("alpha", "e1-again:f:a", 201, True, 4.0))
    s = check(sent, published, calls, dead)
    assert s.duplicates == 1 and not s.ok


def test_a_twice_dead_lettered_action_is_a_duplicate() -> None:
    sent, published, calls, dead = clean_run()
    dead.append(DeadLetterSeen("alpha", "e2:f:a", "e2", "Permanent: 422 nope", 5.0))
    assert check(sent, published, calls, dead).duplicates == 1


def test_a_lost_action_is_caught() -> None:
    sent, published, calls, dead = clean_run()
    s = check(sent, published, calls[:1], dead)  # e1 never took effect, nor was dead-lettered
    assert s.lost == 1 and not s.ok


def test_an_accepted_event_missing_from_kafka_is_caught() -> None:
    sent, published, calls, dead = clean_run()
    s = check(sent, published[1:], calls, dead)
    assert s.not_in_kafka == 1 and not s.ok


def test_a_valid_webhook_never_accepted_is_caught() -> None:
    sent, published, calls, dead = clean_run()
    sent.append(Sent("d3", "stripe", answers=[Answer(0), Answer(503, {"Retry-After": "5"})]))
    assert check(sent, published, calls, dead).unaccepted == 1


def test_a_500_or_a_503_without_retry_after_fails_but_a_proper_503_does_not() -> None:
    sent, published, calls, dead = clean_run()
    sent[1].answers.insert(0, Answer(503))
    sent[0].answers.insert(0, Answer(500))
    s = check(sent, published, calls, dead)
    assert s.bad_5xx == 2 and not s.ok


def test_hostile_input_accepted_or_published_is_caught() -> None:
    sent, published, calls, dead = clean_run()
    sent[2].answers.append(Answer(202, event_ids=[]))
    published.append(Published(TOPIC, 2, 0, "eh", [], b'{"note":"HOSTILE-1"}'))
    s = check(sent, published, calls, dead)
    assert s.hostile_accepted == 1 and s.hostile_published == 1 and s.phantoms == 1


def test_an_offset_committed_before_its_work_was_done_is_caught() -> None:
    sent, published, calls, dead = clean_run()
    # At t=1.5 alpha had committed past offset 0, but e1 took effect only at t=2.0.
    s = check(sent, published, calls, dead, [OffsetSnapshot(1.5, "alpha", TOPIC, 0, 1)])
    assert s.offsets_ahead == 1 and not s.ok
    # The same commit read after the work was done is fine; another target's commit is not ours.
    assert check(sent, published, calls, dead, [OffsetSnapshot(2.1, "alpha", TOPIC, 0, 1)]).ok
    assert check(sent, published, calls, dead, [OffsetSnapshot(1.5, "beta", TOPIC, 0, 1)]).ok


def vendor_run() -> tuple[list[VendorAction], dict[tuple[str, str], list[str]]]:
    """An invoice delivered, a task found after a lost answer, one ambiguous dead letter whose
    task is there, one ambiguous dead letter whose task is not."""
    actions = [
        VendorAction("e1:invoices:create_sales_invoice", "books", "#1", "delivered", "inv-1"),
        VendorAction("e2:leads:create_task", "crm", "tok2", "delivered", "task-2"),
        VendorAction("e3:leads:create_task", "crm", "tok3", "deadlettered", "", "Ambiguous: cannot tell"),
        VendorAction("e4:leads:create_task", "crm", "tok4", "deadlettered", "", "Ambiguous: cannot tell"),
    ]
    effects = {("books", "#1"): ["inv-1"], ("crm", "tok2"): ["task-2"], ("crm", "tok3"): ["task-3"]}
    return actions, effects


def test_the_vendor_check_passes_one_effect_per_action_and_ambiguous_dead_letters() -> None:
    actions, effects = vendor_run()
    s = check_vendor_effects(actions, effects, {("books", "customer 7"): ["c-1"]})
    assert s.ok, s.problems
    assert (s.delivered, s.dead_lettered, s.ambiguous, s.ambiguous_with_effect) == (2, 2, 2, 1)


def test_the_vendor_check_catches_two_invoices_for_one_order() -> None:
    actions, effects = vendor_run()
    effects[("books", "#1")] = ["inv-1", "inv-9"]
    s = check_vendor_effects(actions, effects)
    assert not s.ok and s.twice == 1 and "#1" in s.problems[0]


def test_the_vendor_check_catches_a_delivery_the_vendor_never_got_or_got_under_another_id() -> None:
    actions, effects = vendor_run()
    del effects[("books", "#1")]
    effects[("crm", "tok2")] = ["task-7"]
    s = check_vendor_effects(actions, effects)
    assert not s.ok and s.lost == 2


def test_the_vendor_check_catches_a_plain_dead_letter_whose_effect_happened() -> None:
    actions, effects = vendor_run()
    actions[2].last_error = "Transient: no answer within 1.0 s"
    s = check_vendor_effects(actions, effects)
    assert not s.ok and s.lost == 1


def test_the_vendor_check_catches_records_nobody_asked_for_duplicate_contacts_and_unfinished_actions() -> None:
    actions, effects = vendor_run()
    effects[("crm", "tok-unknown")] = ["task-5"]
    actions[1].status = "sending"
    s = check_vendor_effects(actions, effects, {("books", "customer 7"): ["c-1", "c-2"]})
    assert (s.made_up, s.stranded, s.twice) == (1, 1, 1)
