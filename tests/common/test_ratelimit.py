"""The rate limiters on an injected clock: what each lets through, and how long it says to wait."""

from __future__ import annotations

import pytest

from services.common.ratelimit import Hold, PerClient, SlidingWindow, TokenBucket


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_bucket_allows_a_burst_then_one_per_refill_in_whole_seconds() -> None:
    clock = Clock()
    bucket = TokenBucket(60, clock)  # one a second, bursts of 60
    assert [bucket.take() for _ in range(60)] == [0.0] * 60
    assert bucket.take() == 1.0  # Retry-After takes whole seconds, never 0
    clock.now += 0.5
    assert bucket.take() == 1.0  # half a token is not a token
    clock.now += 0.5
    assert bucket.take() == 0.0
    clock.now += 3600  # idle for an hour: back to a full burst, not more
    assert [bucket.take() for _ in range(61)][-2:] == [0.0, 1.0]


def test_a_token_bucket_with_no_rate_never_limits() -> None:
    bucket = TokenBucket(0, Clock())
    assert {bucket.take() for _ in range(1000)} == {0.0}


def test_a_slow_limit_says_how_long_until_the_next_token() -> None:
    clock = Clock()
    bucket = TokenBucket(3, clock)  # one per 20 s
    assert [bucket.take() for _ in range(3)] == [0.0] * 3
    assert bucket.take() == 20.0
    clock.now += 15
    assert bucket.take() == 5.0


def test_a_sliding_window_frees_a_slot_when_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    window = SlidingWindow(2, 10.0, clock)
    assert window.take() == 0.0
    clock.now += 4
    assert window.take() == 0.0
    assert window.take() == pytest.approx(6.0)  # refused: the first slot frees at +10
    clock.now += 6
    assert window.take() == 0.0
    assert window.take() == pytest.approx(4.0)  # the +4 slot frees at +14


def test_a_sliding_window_answers_the_wait_without_taking_and_records_regardless() -> None:
    clock = Clock()
    failures = SlidingWindow(3, 60.0, clock)  # three failed logins a minute, say
    for _ in range(3):
        assert failures.wait() == 0.0
        failures.record()
        clock.now += 10
    assert failures.wait() == pytest.approx(30.0)  # the first failure leaves the window at +60
    assert failures.wait() == pytest.approx(30.0)  # asking took nothing
    failures.record()  # one more counted anyway (two requests that both passed the check)
    assert failures.wait() == pytest.approx(40.0)  # now the second (+10) must leave, at +70
    clock.now += 40
    assert failures.wait() == 0.0


def test_per_client_remembers_a_client_only_once_it_has_a_limiter() -> None:
    clock = Clock()
    clients = PerClient(lambda: SlidingWindow(1, 60.0, clock), max_clients=2)
    assert clients.get("a") is None and len(clients) == 0  # asking remembers nothing
    clients.for_client("a").record()
    clients.for_client("b").record()
    assert clients.for_client("a") is clients.get("a")  # the same limiter; a is now the most recent
    clients.for_client("c")  # a third client: b, the least recently used, is forgotten
    assert clients.get("b") is None
    known = clients.get("a")
    assert known is not None and known.wait() == pytest.approx(60.0)
    clients.clear("a")
    assert clients.get("a") is None and len(clients) == 1
    clients.clear()
    assert len(clients) == 0


def test_per_client_limits_are_separate_and_bounded() -> None:
    clock = Clock()
    clients = PerClient(lambda: TokenBucket(1, clock), max_clients=2)
    assert clients.take("a") == 0.0
    assert clients.take("b") == 0.0
    assert clients.take("a") > 0  # a's allowance is spent; b's is its own
    clients.take("c")  # a third client: the least recently used (b) is forgotten
    assert len(clients) == 2
    assert clients.take("b") == 0.0  # b starts again with a full bucket
    assert clients.take("c") > 0


def test_a_hold_lasts_until_the_named_moment_and_a_shorter_one_does_not_shorten_it() -> None:
    clock = Clock()
    hold = Hold(clock)
    assert hold.take() == 0.0
    hold.hold_for(30)
    hold.hold_for(2)
    clock.now += 10
    assert hold.take() == pytest.approx(20.0)
    clock.now += 20
    assert hold.take() == 0.0
