"""The chaos checker: from what senders were told, what Kafka holds and what targets saw, prove
that nothing accepted was lost, nothing was done twice, and no offset was committed early."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Answer:
    """One HTTP answer the gateway gave a sender (status 0: the connection failed)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)
    reason: str = ""  # the problem's `reason` for a rejection
    at: float = 0.0


@dataclass
class Sent:
    """One logical webhook (a vendor delivery) and every answer to its (re)sends."""

    key: str  # the sender's own id of the delivery
    source: str
    valid: bool = True  # False: hostile or malformed on purpose, must be rejected with 4xx
    marker: str = ""  # a string in the body, to prove a rejected one was never published
    answers: list[Answer] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """Some (re)send got a 2xx."""
        return any(200 <= a.status < 300 for a in self.answers)

    def event_id_sets(self) -> list[frozenset[str]]:
        """The event ids of each 202 (accepted) answer. A 200 "duplicate" answer names only the
        delivery's first event id, so it is compared as a subset (see `check`)."""
        return [frozenset(a.event_ids) for a in self.answers if a.status == 202 and a.event_ids]

    def duplicate_ids(self) -> set[str]:
        """Event ids named by 200 ("duplicate") answers."""
        return {e for a in self.answers if a.status == 200 for e in a.event_ids}


@dataclass
class TargetCall:
    """One request a target received; `effect` when this request applied the key's effect."""

    target: str
    key: str
    status: int
    effect: bool
    at: float


@dataclass
class Published:
    """One record of an event topic, with the actions the flows expect from it."""

    topic: str
    partition: int
    offset: int
    event_id: str
    expected: list[tuple[str, str]]  # (target, idempotency key)
    value: bytes = b""


@dataclass
class DeadLetterSeen:
    """One record of a dead-letter topic."""

    target: str
    key: str
    event_id: str
    reason: str
    at: float


@dataclass
class OffsetSnapshot:
    """A consumer group's committed offset of one partition, read at time `at`."""

    at: float
    target: str
    topic: str
    partition: int
    committed: int


@dataclass
class Summary:
    """The verdict and the figures behind it."""

    sent: int = 0
    requests: int = 0
    hostile: int = 0
    accepted: int = 0
    unaccepted: int = 0  # valid deliveries no (re)send got a 2xx for
    rejected: Counter[str] = field(default_factory=Counter)  # "status reason" -> answers
    events: int = 0
    expected_actions: int = 0
    delivered: Counter[str] = field(default_factory=Counter)  # target -> keys with an effect
    deadlettered: int = 0
    deadlettered_but_delivered: int = 0  # ambiguous outcomes: effect happened, still reported
    duplicates: int = 0
    lost: int = 0
    not_in_kafka: int = 0
    phantoms: int = 0  # published events no sender was told about
    hostile_published: int = 0
    hostile_accepted: int = 0
    bad_5xx: int = 0
    offsets_ahead: int = 0
    offset_snapshots: int = 0
    retries_at_targets: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing doubled, nothing hostile through, no early commit, no bad 5xx."""
        return not (
            self.duplicates or self.lost or self.not_in_kafka or self.phantoms or self.hostile_published
            or self.hostile_accepted or self.bad_5xx or self.offsets_ahead or self.unaccepted
        )

    def table(self, title: str = "chaos run") -> str:
        """The summary as a fixed-width table."""
        rows: list[tuple[str, str]] = [
            ("webhooks sent (logical)", str(self.sent)),
            ("  of which hostile/malformed", str(self.hostile)),
            ("HTTP requests (incl. resends, retries)", str(self.requests)),
            ("accepted (2xx)", str(self.accepted)),
            ("valid but never accepted", str(self.unaccepted)),
        ]
        rows += [(f"answers {k}", str(v)) for k, v in sorted(self.rejected.items())]
        rows += [
            ("events in Kafka (distinct)", str(self.events)),
            ("expected actions", str(self.expected_actions)),
        ]
        rows += [(f"delivered to {t}", str(n)) for t, n in sorted(self.delivered.items())]
        rows += [
            ("dead-lettered (with reason)", str(self.deadlettered)),
            ("  dead-lettered, effect happened too", str(self.deadlettered_but_delivered)),
            ("requests at targets (incl. retries)", str(self.retries_at_targets)),
            ("duplicates at targets (must be 0)", str(self.duplicates)),
            ("lost (must be 0)", str(self.lost)),
            ("accepted but not in Kafka (must be 0)", str(self.not_in_kafka)),
            ("published without a 2xx (must be 0)", str(self.phantoms)),
            ("hostile accepted/published (must be 0)", f"{self.hostile_accepted}/{self.hostile_published}"),
            ("5xx other than 503+Retry-After (must be 0)", str(self.bad_5xx)),
            (f"offsets committed ahead of work ({self.offset_snapshots} reads)", str(self.offsets_ahead)),
            ("verdict", "PASS" if self.ok else "FAIL"),
        ]
        width = max(len(k) for k, _ in rows)
        vwidth = max(len(v) for _, v in rows)
        line = "+" + "-" * (width + 2) + "+" + "-" * (vwidth + 2) + "+"
        out = [f"== {title} ==", line]
        out += [f"| {k.ljust(width)} | {v.rjust(vwidth)} |" for k, v in rows]
        out.append(line)
        shown: Counter[str] = Counter()
        for p in self.problems:
            shown[p] += 1
        out += [f"  ! {p}" + (f" (x{n})" if n > 1 else "") for p, n in list(shown.items())[:25]]
        return "\n".join(out)


def check(
    sent: list[Sent],
    published: list[Published],
    calls: list[TargetCall],
    deadletters: list[DeadLetterSeen],
    snapshots: list[OffsetSnapshot] = (),  # type: ignore[assignment]
) -> Summary:
    """Check one run (one broker lifetime) and return the summary; `Summary.ok` is the verdict."""
    s = Summary(sent=len(sent), hostile=sum(not x.valid for x in sent))
    s.requests = sum(len(x.answers) for x in sent)
    problems = s.problems
    told: dict[str, str] = {}  # event id -> sender key
    extra_ids: set[str] = set()  # event ids a resend got beyond the first answer's
    for x in sent:
        for a in x.answers:
            if a.status >= 300 or a.status == 0:
                s.rejected[f"{a.status or 'conn-error'} {a.reason}".strip()] += 1
            if a.status >= 500 and not (a.status == 503 and a.headers.get("Retry-After")):
                s.bad_5xx += 1
                problems.append(f"{x.source} {x.key}: {a.status} without Retry-After")
        if not x.valid:
            if x.accepted:
                s.hostile_accepted += 1
                problems.append(f"hostile {x.key} was accepted")
            if any(500 <= a.status < 600 for a in x.answers):
                s.bad_5xx += 1
            continue
        if not x.accepted:
            s.unaccepted += 1
            problems.append(f"{x.source} {x.key} was never accepted: {[a.status for a in x.answers]}")
            continue
        s.accepted += 1
        sets = x.event_id_sets()
        union = set().union(*sets) if sets else set()
        for eid in union | x.duplicate_ids():
            told[eid] = x.key
        if len(set(sets)) > 1 or (sets and not x.duplicate_ids() <= union):
            extra_ids |= (union | x.duplicate_ids()) - (sets[0] if sets else set())
            problems.append(f"{x.key} got different event ids on resend: {[a.event_ids for a in x.answers]}")
    in_kafka = {p.event_id for p in published}
    s.events = len(in_kafka)
    for eid, key in told.items():
        if eid not in in_kafka:
            s.not_in_kafka += 1
            problems.append(f"accepted event {eid} ({key}) is not in Kafka")
    for eid in in_kafka - set(told):
        s.phantoms += 1
        problems.append(f"event {eid} is in Kafka but no sender was told so")
    markers = [x.marker.encode() for x in sent if not x.valid and x.marker]
    for p in published:
        if any(m in p.value for m in markers):
            s.hostile_published += 1
            problems.append(f"hostile marker published in {p.topic}:{p.partition}:{p.offset}")

    effects: Counter[tuple[str, str]] = Counter()
    first_effect: dict[tuple[str, str], float] = {}
    for c in calls:
        s.retries_at_targets += 1
        if c.effect:
            effects[(c.target, c.key)] += 1
            first_effect.setdefault((c.target, c.key), c.at)
    dead: Counter[tuple[str, str]] = Counter()
    first_dead: dict[tuple[str, str], float] = {}
    for d in deadletters:
        dead[(d.target, d.key)] += 1
        first_dead[(d.target, d.key)] = min(d.at, first_dead.get((d.target, d.key), d.at))
        if not d.reason.strip(": "):
            problems.append(f"dead letter {d.key} at {d.target} has no reason")
            s.lost += 1

    expected: set[tuple[str, str]] = {tk for p in published for tk in p.expected}
    s.expected_actions = len(expected)
    for tk in sorted(expected):
        n_eff, n_dead = effects[tk], dead[tk]
        if n_eff > 1:
            s.duplicates += n_eff - 1
            problems.append(f"{tk[1]} took effect {n_eff} times at {tk[0]}")
        if n_eff:
            s.delivered[tk[0]] += 1
            if n_dead:
                s.deadlettered_but_delivered += 1
        elif n_dead:
            s.deadlettered += 1
            if n_dead > 1:
                s.duplicates += n_dead - 1
                problems.append(f"{tk[1]} was dead-lettered {n_dead} times for {tk[0]}")
        else:
            s.lost += 1
            problems.append(f"{tk[1]} never reached {tk[0]} nor its dead letters")
    for tk, n in effects.items():
        if tk not in expected:
            s.duplicates += n
            problems.append(f"{tk[1]} took effect at {tk[0]} but no published event asks for it")
    # One vendor delivery that became two event ids: both took effect -> the action ran twice.
    for tk in expected:
        eid = tk[1].split(":", 1)[0]
        if eid in extra_ids and effects[tk]:
            s.duplicates += 1

    resolved = {tk: min(first_effect.get(tk, float("inf")), first_dead.get(tk, float("inf"))) for tk in expected}
    by_tp: dict[tuple[str, int], list[Published]] = defaultdict(list)
    for p in published:
        by_tp[(p.topic, p.partition)].append(p)
    s.offset_snapshots = len(snapshots)
    for snap in snapshots:
        for p in by_tp.get((snap.topic, snap.partition), []):
            if p.offset >= snap.committed:
                continue
            for tk in p.expected:
                if tk[0] == snap.target and resolved[tk] > snap.at:
                    s.offsets_ahead += 1
                    problems.append(
                        f"{snap.target} committed {snap.topic}:{snap.partition}@{snap.committed} at {snap.at:.3f}"
                        f" before {tk[1]} (offset {p.offset}) was done"
                    )
    return s


# --- vendors without idempotency keys: effects counted at the vendor by business key ----------


@dataclass
class VendorAction:
    """One expected action of an accepted event, as the ledger finished it, and the business key
    its effect is counted by at the vendor (an invoice reference, a marker, an e-mail)."""

    key: str  # the idempotency key
    target: str
    business: str
    status: str  # the ledger's delivery status
    external_id: str = ""
    last_error: str = ""


@dataclass
class VendorSummary:
    """What the vendors hold against what the ledger says."""

    actions: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    ambiguous: int = 0  # dead-lettered as ambiguous (the effect may or may not be there)
    ambiguous_with_effect: int = 0
    twice: int = 0
    lost: int = 0
    stranded: int = 0
    made_up: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing twice, nothing lost, nothing unfinished, nothing nobody asked for."""
        return not (self.twice or self.lost or self.stranded or self.made_up)


def check_vendor_effects(
    actions: list[VendorAction],
    effects: dict[tuple[str, str], list[str]],
    natural: dict[tuple[str, str], list[str]] | None = None,
) -> VendorSummary:
    """`effects`: (target, business key) -> the ids of the records a vendor holds for it;
    `natural`: records that exist once per natural key (a contact per customer_id) with no
    action of their own. Every action took effect exactly once (its record's id is the one the
    ledger recorded), or it is dead-lettered with at most one effect, and a dead letter whose
    effect happened says it is ambiguous; never two records for one key; no record of a key no
    action asked for."""
    s = VendorSummary(actions=len(actions))
    wanted = {(a.target, a.business) for a in actions}
    for a in actions:
        ids = effects.get((a.target, a.business), [])
        if len(ids) > 1:
            s.twice += 1
            s.problems.append(f"{a.key} took effect {len(ids)} times at {a.target} ({a.business}): {ids}")
        if a.status == "delivered":
            s.delivered += 1
            if not ids:
                s.lost += 1
                s.problems.append(f"{a.key} is delivered in the ledger but {a.target} has no {a.business}")
            elif a.external_id not in ids:
                s.lost += 1
                s.problems.append(f"{a.key} recorded {a.external_id!r}, {a.target} holds {ids}")
        elif a.status == "deadlettered":
            s.dead_lettered += 1
            ambiguous = a.last_error.startswith("Ambiguous")
            s.ambiguous += ambiguous
            if ids:
                s.ambiguous_with_effect += ambiguous
                if not ambiguous:
                    s.lost += 1  # the owner is told it failed, yet it happened: replay makes two
                    s.problems.append(f"{a.key} took effect at {a.target} but its dead letter says {a.last_error!r}")
        else:
            s.stranded += 1
            s.problems.append(f"{a.key} at {a.target} left {a.status or 'unstarted'}")
    for (target, business), ids in effects.items():
        if ids and (target, business) not in wanted:
            s.made_up += len(ids)
            s.problems.append(f"{target} holds {ids} for {business}, which no action asked for")
    for (target, business), ids in (natural or {}).items():
        if len(ids) > 1:
            s.twice += 1
            s.problems.append(f"{target} holds {len(ids)} records for {business}: {ids}")
    return s
