"""Typed refusals of the change pipeline, each with a message for the person in Chinese and English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import get_language

from sidms.changes.validators import Invalid


def _pick(message: str, message_en: str) -> str:
    return message_en if (get_language() or "").startswith("en") else message


class ChangeRefused(Exception):
    """Bad input, refused whole: nothing of the submission is stored. ``errors`` maps fields to reasons."""

    def __init__(
        self,
        message: str = "提交的数据不符合采集规则，已全部退回，未保存任何内容",
        message_en: str = "The submission does not meet the collection rules; nothing was saved",
        *,
        errors: Mapping[str, Invalid] | None = None,
    ) -> None:
        super().__init__(message, message_en)
        self.message = message
        self.message_en = message_en
        self.errors = dict(errors or {})

    def __str__(self) -> str:
        text = _pick(self.message, self.message_en)
        if self.errors:
            text += "：" + "；".join(f"{field}：{error.localized()}" for field, error in self.errors.items())
        return text

    def localized(self) -> str:
        return _pick(self.message, self.message_en)


class NotPermitted(PermissionDenied):
    """The actor's post, district or role in the workflow does not allow this step."""

    # The audit event of a refusal raised inside a transaction. Written there, it was
    # rolled back together with the refused step and the attempt left no trace (R20); it is written by
    # sidms.changes.services.audited_refusals after the rollback instead.
    audit_event: dict[str, Any] | None = None

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(message, message_en)
        self.message = message
        self.message_en = message_en

    def __str__(self) -> str:
        return _pick(self.message, self.message_en)


class SeparationOfDuties(NotPermitted):
    """The same person may not do two steps of one workflow (R9.3) or review their own submission."""


class StaleChange(ChangeRefused):
    """The record changed after the request was made; deciding on old facts is refused."""
