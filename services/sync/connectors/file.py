"""A JSON Lines outbox: one record per delivered action, appended to a file per target."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, ClassVar

import msgspec

from schemas import to_builtins
from services.common.config import TargetConfig, about
from services.common.datadir import open_private
from services.sync.connectors.base import JSON, ActionRequest, Connector, Delivered
from services.sync.errors import Transient


class FileConfig(TargetConfig, frozen=True, kw_only=True):
    """Where the outbox file lives (default: <data_dir>/outbox/<target>.jsonl)."""

    path: Annotated[str, about(
        "The outbox file; empty: <data_dir>/outbox/<target>.jsonl.", "var/outbox/crm.jsonl"
    )] = ""


class OutboxRecord(msgspec.Struct, frozen=True):
    """One line of the outbox."""

    idempotency_key: str
    target: str
    flow: str
    action: str
    event_type: str
    event_id: str
    delivered_at: dt.datetime
    fields: dict[str, str]
    event: dict[str, object]


# Keys remembered from the outbox. A repeat comes only from a crash between writing a line and
# the ledger noting the delivery (a ledger that cannot note it yet is retried in place, the target
# not called again), so only the latest keys matter: at most the records in hand (4x
# sync.concurrency per worker) were written and not noted; the ledger skips older ones. ~200 bytes
# a key: 100,000 kept ~20 MB of a one box's memory for nothing (bench/onebox, tracemalloc).
REMEMBERED_KEYS = 10_000


class FileConnector(Connector):
    """Appends each action to a JSON Lines file; a key among its latest is not written again."""

    kind: ClassVar[str] = "file"
    Config = FileConfig
    actions = None
    idempotency = "natural"
    config: FileConfig

    async def start(self) -> None:
        """Open the outbox and remember the latest idempotency keys it holds (bounded)."""
        self.path = Path(self.config.path or self.ctx.data_dir / "outbox" / f"{self.name}.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        if self.path.exists():
            with open(self.path, "rb") as f:
                for line in f:
                    try:
                        self._remember(msgspec.json.decode(line)["idempotency_key"])
                    except (msgspec.DecodeError, KeyError, TypeError):
                        continue  # a torn last line from a crash mid-write: ignored, rewritten
        # 0600: the outbox holds every contact and order that went through.
        self._fh = os.fdopen(open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > REMEMBERED_KEYS:
            self._seen.popitem(last=False)

    async def close(self) -> None:
        """Close the outbox file."""
        self._fh.close()

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Append one record, flushed and fsynced, unless the key is already there."""
        async with self._lock:
            if request.idempotency_key in self._seen:
                return Delivered(external_id=request.idempotency_key, detail="already in outbox")
            record = OutboxRecord(
                idempotency_key=request.idempotency_key,
                target=self.name,
                flow=request.flow,
                action=request.action,
                event_type=request.event.type,
                event_id=request.event.id,
                delivered_at=dt.datetime.now(dt.UTC),
                fields=request.fields,
                event=to_builtins(request.event),
            )
            try:
                self._fh.write(JSON.encode(record) + b"\n")
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise Transient(f"cannot write {self.path}: {exc.strerror}") from exc
            self._remember(request.idempotency_key)
        return Delivered(external_id=request.idempotency_key, detail=f"written to {self.path}")
