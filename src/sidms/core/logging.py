"""A logging filter that keeps ID numbers out of every log line (R10, security checklist item 10)."""

from __future__ import annotations

import logging
import re

_ID_NUMBER = re.compile(
    r"(?<![0-9])(\d{6})(\d{8})(\d{3}[\dxX])(?![0-9])|(?<![0-9])(\d{6})(\d{6})(\d{3})(?![0-9])"
)


def mask(text: str) -> str:
    """18- and 15-digit ID-number shapes with their birth date starred out."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1) + "*" * 8 + match.group(3)
        return match.group(4) + "*" * 6 + match.group(6)

    return _ID_NUMBER.sub(replace, text)


class MaskIdNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class QuietRefusals(logging.Filter):
    """A refused access (403) is an audited, expected event: its log line stays, without the traceback Django
    attaches to it, which buried real errors in the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        from django.core.exceptions import PermissionDenied

        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
