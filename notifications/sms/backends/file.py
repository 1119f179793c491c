"""Appends one JSON line per SMS to ``<SMS_FILE_PATH>/sms.jsonl``, and one per voice call to ``calls.jsonl`` beside
it (``text`` instead of ``body``: a call is never counted as an SMS).

Safe across processes: each line is written with a single ``os.write`` on an ``O_APPEND`` descriptor under an
exclusive ``flock``, so lines from several workers never interleave. Integration tests count sends with it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from notifications.sms import SmsResult
from notifications.sms.backends.base import BaseSmsBackend

FILE_NAME = "sms.jsonl"
CALLS_FILE_NAME = "calls.jsonl"


def read_messages(path: str | os.PathLike | None = None, *, name: str = FILE_NAME) -> list[dict]:
    """Every message recorded under ``path`` (default ``SMS_FILE_PATH``), oldest first."""
    file = Path(path or settings.SMS_FILE_PATH) / name
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_calls(path: str | os.PathLike | None = None) -> list[dict]:
    """Every voice call recorded under ``path`` (default ``SMS_FILE_PATH``), oldest first."""
    return read_messages(path, name=CALLS_FILE_NAME)


class SmsBackend(BaseSmsBackend):
    def __init__(self, *, file_path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dir = Path(file_path or settings.SMS_FILE_PATH)

    def _append(self, name: str, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat(timespec="microseconds")

    def send(self, *, to: str, body: str) -> SmsResult:
        sid = self.local_id()
        self._append(FILE_NAME, {"sid": sid, "to": to, "body": body, "at": self._now(), "pid": os.getpid()})
        return SmsResult(provider_id=sid)

    def call(self, *, to: str, text: str) -> SmsResult:
        sid = self.local_call_id()
        self._append(CALLS_FILE_NAME, {"sid": sid, "to": to, "text": text, "at": self._now(), "pid": os.getpid()})
        return SmsResult(provider_id=sid, status="queued")

    def lookup(self, *, to: str, body: str, since: datetime) -> SmsResult | None:
        for record in reversed(read_messages(self.dir)):
            if record["to"] == to and record["body"] == body and datetime.fromisoformat(record["at"]) >= since:
                return SmsResult(provider_id=record["sid"])
        return None

    def lookup_call(
        self, *, to: str, since: datetime, until: datetime | None = None, exclude: Collection[str] = ()
    ) -> SmsResult | None:
        for record in reversed(read_calls(self.dir)):
            at = datetime.fromisoformat(record["at"])
            if record["to"] == to and at >= since and (until is None or at <= until) and record["sid"] not in exclude:
                return SmsResult(provider_id=record["sid"], status="queued")
        return None
