"""A JSON Lines outbox: one record per delivered action, appended to a file per target."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import ClassVar

import msgspec

from schemas import to_builtins
from services.common.config import TargetConfig
from services.sync.connectors.base import JSON, ActionRequest, Connector, Delivered
from services.sync.errors import Transient


class FileConfig(TargetConfig, frozen=True, kw_only=True):
    """Where the outbox file lives (default: <data_dir>/outbox/<target>.jsonl)."""

    path: str = ""


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


class FileConnector(Connector):
    """Appends each action to a JSON Lines file; a key already in the file is not written again."""

    kind: ClassVar[str] = "file"
    Config = FileConfig
    actions = None
    idempotency = "natural"
    config: FileConfig

    async def start(self) -> None:
        """Open the outbox and remember which idempotency keys it already holds."""
        self.path = Path(self.config.path or self.ctx.data_dir / "outbox" / f"{self.name}.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()
        self._seen: set[str] = set()
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    self._seen.add(msgspec.json.decode(line)["idempotency_key"])
                except (msgspec.DecodeError, KeyError, TypeError):
                    continue  # a torn last line from a crash mid-write: ignored, rewritten
        self._fh = open(self.path, "ab")

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
            self._seen.add(request.idempotency_key)
        return Delivered(external_id=request.idempotency_key, detail=f"written to {self.path}")
