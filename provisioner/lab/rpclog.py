"""The RPC log of a lab device: one JSON object per RPC, without any payload or value."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class RpcLog:
    """Append-only RPC records, written to a JSON Lines file and kept in memory.

    Each record has ``time``, ``device``, ``session_id``, ``message_id``, ``operation``, ``ok``
    and ``error_tag``, plus ``target`` or ``source`` when the RPC names a datastore. A RESTCONF
    request adds ``transport`` (``restconf``) and ``request`` (method and path). Records never
    contain RPC bodies, because those carry passwords.
    """

    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self.device = device
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def append(
        self,
        session_id: int,
        message_id: str | None,
        operation: str,
        ok: bool,
        error_tag: str | None = None,
        target: str | None = None,
        source: str | None = None,
        transport: str | None = None,
        request: str | None = None,
    ) -> None:
        """Record one RPC and flush the line to disk."""
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "device": self.device,
            "session_id": session_id,
            "message_id": message_id,
            "operation": operation,
        }
        if target is not None:
            record["target"] = target
        if source is not None:
            record["source"] = source
        if transport is not None:
            record["transport"] = transport
        if request is not None:
            record["request"] = request
        record["ok"] = ok
        record["error_tag"] = error_tag
        line = json.dumps(record) + "\n"
        with self._lock:
            self._records.append(record)
            if not self._file.closed:
                self._file.write(line)
                self._file.flush()

    def records(self) -> list[dict[str, Any]]:
        """Return a copy of all records written since the device started."""
        with self._lock:
            return [dict(record) for record in self._records]

    def close(self) -> None:
        """Close the log file; later records are kept in memory only."""
        with self._lock:
            self._file.close()
