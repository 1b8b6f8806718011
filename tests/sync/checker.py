"""The exactly-once checker: every action of every accepted event took effect once at its target,
or sits once in the target's dead letters; nothing else happened for those events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from services.sync.replay import DeadLetter
from tests.sync.target import TargetServer


@dataclass(frozen=True)
class Verdict:
    """What the checker found for one target: keys delivered and keys dead-lettered."""

    delivered: frozenset[str]
    deadlettered: frozenset[str]


def check_exactly_once(
    server: TargetServer,
    path: str,
    keys: Iterable[str],
    dead_letters: Iterable[DeadLetter],
    *,
    deadlettered_ok: bool = True,
    resends_ok: bool = False,
) -> Verdict:
    """Assert exactly-once per idempotency key at one target path; return who went where.

    A key counts as delivered when its effect was applied once and the target answered it 2xx
    once (a sender that retried after hearing "OK" would show up as a second answer; with
    `resends_ok`, for runs where processes die between an answer and their ledger write, the
    target's Idempotency-Key dedupe is what keeps the effect single, so repeats are allowed). A key
    counts as dead-lettered when it has exactly one dead letter and no effect, unless that dead
    letter was replayed (then the effect is there once and the dead letter says "replayed").
    """
    wanted = set(keys)
    letters = [dl for dl in dead_letters if dl.headers.get("idempotency-key", "") in wanted]
    per_key = Counter(dl.headers["idempotency-key"] for dl in letters)
    status = {dl.headers["idempotency-key"]: dl.status for dl in letters}
    problems: list[str] = []
    delivered, dead = set(), set()
    for key in sorted(wanted):
        effects, answered, n_dead = server.effects[(path, key)], server.ok[(path, key)], per_key[key]
        if n_dead > 1:
            problems.append(f"{key}: {n_dead} dead letters")
        answered_right = answered == 1 or (resends_ok and answered > 1)
        if effects == 1 and answered_right and (n_dead == 0 or status[key] == "replayed"):
            delivered.add(key)
        elif effects == 0 and n_dead == 1:
            dead.add(key)
        else:
            problems.append(f"{key}: effects={effects} answered_ok={answered} dead_letters={n_dead}")
    events = {k.split(":", 1)[0] for k in wanted}
    stray = sorted(
        k for (p, k), n in server.effects.items()
        if p == path and n and k.split(":", 1)[0] in events and k not in wanted
    )
    if stray:
        problems.append(f"unexpected effects: {stray}")
    if dead and not deadlettered_ok:
        problems.append(f"dead-lettered although none should be: {sorted(dead)}")
    assert not problems, "exactly-once violated:\n" + "\n".join(problems)
    return Verdict(frozenset(delivered), frozenset(dead))
