"""Typed refusals, each with a stable machine-readable code and one message through Django's gettext.

The message is an English msgid translated in the zh-hans catalogue (tools/zh_hans.d/*.tsv), so the person
reads it in the language of the page, and an API can return ``as_dict()`` as JSON. The one exception is a
refusal that comes from ``sidms.lib`` (the standards library has no Django and carries its own Chinese and
English sentences): ``Text.pair`` keeps both and ``in_language`` is the only place that chooses between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from sidms.lib.errors import StandardError


def english() -> bool:
    """Whether the active language is English (the one place that asks)."""
    return (get_language() or "").startswith("en")


def in_language(chinese: str, english_text: str) -> str:
    """Pick one of a pair of sentences that did not come through gettext (sidms.lib's refusals)."""
    return english_text if english() else chinese


class Text:
    """A message to show a person: a lazy gettext msgid with %-parameters, or a (Chinese, English) pair
    from sidms.lib. ``str()`` renders it in the active language."""

    __slots__ = ("_msg", "_pair", "_params")

    def __init__(
        self,
        message: str | Promise | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        pair: tuple[str, str] | None = None,
    ) -> None:
        self._msg = message
        self._params = dict(params or {})
        self._pair = pair

    def __str__(self) -> str:
        if self._pair is not None:
            return in_language(*self._pair)
        text = str(self._msg or "")
        return text % {k: str(v) for k, v in self._params.items()} if self._params else text

    def __repr__(self) -> str:
        return f"Text({self._msg if self._pair is None else self._pair[1]!r})"


def _text(message: str | Promise | Text | None, params: Mapping[str, Any] | None) -> Text:
    if isinstance(message, Text):
        return message
    return Text(message, params)


class Invalid(ValueError):
    """One field's value refused by a rule, with a stable reason code and the person's message."""

    def __init__(self, code: str, message: str | Promise | Text, params: Mapping[str, Any] | None = None):
        self.code = code
        self.text = _text(message, params)
        super().__init__(code)

    @property
    def reason(self) -> str:
        return self.code

    @classmethod
    def of(cls, error: StandardError) -> Invalid:
        return cls(error.reason, Text(pair=(error.message, error.message_en)))

    def localized(self) -> str:
        return str(self.text)

    def __str__(self) -> str:
        return self.localized()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (a dry run's forked workers hand refusals back, sidms.core.workers): the exception's
        # args hold the code only.
        return (type(self), (self.code, self.text))

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.localized()}


class SidmsError(Exception):
    """Base of every refusal a person can read. Subclasses set ``code`` and ``default``."""

    code = "refused"
    default: str | Promise = _("The request was refused.")

    def __init__(
        self,
        message: str | Promise | Text | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        code: str | None = None,
        errors: Mapping[str, Invalid] | None = None,
    ) -> None:
        self.text = _text(message if message is not None else self.default, params)
        if code is not None:
            self.code = code
        self.errors: dict[str, Invalid] = dict(errors or {})
        super().__init__(self.code)

    def localized(self) -> str:
        return str(self.text)

    def __str__(self) -> str:
        text = self.localized()
        if self.errors:
            text += "：" + "；".join(f"{field}：{error.localized()}" for field, error in self.errors.items())
        return text

    def as_dict(self) -> dict[str, Any]:
        """What an API returns: the code, the message, and per-field reasons."""
        out: dict[str, Any] = {"code": self.code, "message": self.localized()}
        if self.errors:
            out["errors"] = {name: error.as_dict() for name, error in self.errors.items()}
        return out


class ChangeRefused(SidmsError):
    """Bad input, refused whole: nothing of the submission is stored. ``errors`` maps fields to reasons."""

    code = "invalid"
    default = _("The submission does not meet the collection rules; nothing was saved.")


class StaleChange(ChangeRefused):
    """The record changed after the request was made; deciding on old facts is refused."""

    code = "stale"
    default = _("The record was changed meanwhile; reload and submit again.")


class NotPermitted(SidmsError, PermissionDenied):
    """The actor's post, district or role in the workflow does not allow this step."""

    code = "not_permitted"
    default = _("You may not do this.")
    # The audit event of a refusal raised inside a transaction: written there, it would be rolled back with
    # the refused step and the attempt would leave no trace (R20), so sidms.changes.services.audited_refusals
    # writes it after the rollback instead.
    audit_event: dict[str, Any] | None = None


class SeparationOfDuties(NotPermitted):
    """The same person may not do two steps of one workflow (R9.3) or review their own submission."""

    code = "separation_of_duties"


class IntegrityAlert(NotPermitted):
    """A stored row no longer matches its history or seal: it was changed outside the system. The pipeline
    refuses to build on it; the alert is an audit event the supervisors see (R20)."""

    code = "integrity"
    default = _("The stored data does not match its history (changed outside the system); refused.")
    # For an encrypted value that does not decrypt as its record's (sidms.core.fields): which record and
    # field, so that whoever catches the alert can name them in the audit event.
    damaged: dict[str, Any] | None = None


DAMAGED = _(
    "%(record)s holds an encrypted value that was not written for it (copied from another record, or the key "
    "file is the wrong one); it cannot be shown or changed. Tell the information centre."
)


def damaged_value(model: Any, pk: Any, field: str) -> IntegrityAlert:
    alert = IntegrityAlert(DAMAGED, {"record": f"{model._meta.verbose_name} #{pk}"})
    alert.damaged = {"model": model._meta.label_lower, "pk": pk, "field": field}
    return alert
