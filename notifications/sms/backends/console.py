"""Writes each SMS and each voice call (``CALL``, with the text it would say) to stdout (the embedded default: no
provider needed)."""

from __future__ import annotations

import sys
import threading

from notifications.sms import SmsResult
from notifications.sms.backends.base import BaseSmsBackend

_lock = threading.Lock()


class SmsBackend(BaseSmsBackend):
    def __init__(self, *, stream=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str) -> SmsResult:
        sid = self.local_id()
        with _lock:
            self.stream.write(f"SMS {sid} to {to}\n{body}\n{'-' * 40}\n")
            self.stream.flush()
        return SmsResult(provider_id=sid)

    def call(self, *, to: str, text: str) -> SmsResult:
        sid = self.local_call_id()
        with _lock:
            self.stream.write(f"CALL {sid} to {to}\n{text}\n{'-' * 40}\n")
            self.stream.flush()
        return SmsResult(provider_id=sid)
