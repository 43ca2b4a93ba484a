"""The governed base models and the write guard (principle 1: one door for writes).

Every governed model derives from one of two bases and declares what the kernel needs of it in a
``governance = Declaration(...)`` attribute (sidms.core.declare):

* ``RegistryRecord``: one current row plus immutable revisions (persons, units, enrolments, parameters);
* ``LedgerFact``: append-only rows, never updated; a correction is a new entry naming what it corrects.

Saving, updating or deleting a governed row anywhere but inside ``pipeline_writes()`` — which only the change
pipeline (sidms.changes) opens — raises ``UngovernedWrite``. A raw SQL write cannot be stopped this way; it is
caught by ``sidms audit verify`` through the rows' keyed digests (principle 4).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

_PIPELINE_WRITE: ContextVar[bool] = ContextVar("sidms_pipeline_write", default=False)


class UngovernedWrite(RuntimeError):
    """Code outside the change pipeline tried to write a governed row (principle 1)."""


@contextmanager
def pipeline_writes() -> Iterator[None]:
    """Opened only by sidms.changes: inside it, governed rows may be written."""
    token = _PIPELINE_WRITE.set(True)
    try:
        yield
    finally:
        _PIPELINE_WRITE.reset(token)


def _guard(model: type[models.Model], what: str) -> None:
    if not _PIPELINE_WRITE.get():
        raise UngovernedWrite(
            f"{model.__name__}.{what} outside the change pipeline: use sidms.changes.services "
            "(one door for writes)."
        )


def _append_only(model: type[models.Model], what: str) -> None:
    raise UngovernedWrite(
        f"{model.__name__}.{what}: ledger facts are never changed; add a correcting entry (one door for writes)."
    )


class GovernedQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        if getattr(self.model, "append_only", False):
            _append_only(self.model, "update()")
        _guard(self.model, "update()")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if getattr(self.model, "append_only", False):
            _append_only(self.model, "delete()")
        _guard(self.model, "delete()")
        return super().delete()

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[Any]:
        _guard(self.model, "bulk_create()")
        return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        if getattr(self.model, "append_only", False):
            _append_only(self.model, "bulk_update()")
        _guard(self.model, "bulk_update()")
        return super().bulk_update(*args, **kwargs)


class Governed(models.Model):
    """Rows that change only through the change pipeline; version and digest tie them to their history."""

    append_only: ClassVar[bool] = False

    # The record's stable identity: encrypted values are bound to it (sidms.core.fields), and it is part of
    # every digest, so neither a ciphertext nor a whole row can be moved to another record unnoticed.
    uid = models.UUIDField(_("identity"), default=uuid.uuid4, unique=True, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1)
    row_digest = models.CharField(_("row digest"), max_length=64, blank=True, editable=False)
    # A keyed MAC over the record's ciphertexts (sidms.core.kernel.cipher_mac): the row digest covers the
    # values through their blind indexes, so that re-encryption changes no history; this covers the bytes,
    # so that a ciphertext copied from another row, or an older one of the same field, is caught without
    # decrypting anything.
    cipher_mac = models.CharField(_("ciphertext MAC"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    objects = GovernedQuerySet.as_manager()

    class Meta:
        abstract = True
        # Django's internal writes (related-object access, cascades) go through the guarded manager too.
        base_manager_name = "objects"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.append_only and not self._state.adding:
            _append_only(type(self), "save()")
        _guard(type(self), "save()")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.append_only:
            _append_only(type(self), "delete()")
        _guard(type(self), "delete()")
        return super().delete(*args, **kwargs)


class RegistryRecord(Governed):
    """A current row with immutable revisions kept apart from it (sidms.changes.models.Revision)."""

    class Meta(Governed.Meta):
        abstract = True


class LedgerFact(Governed):
    """An append-only fact: history is the ledger itself, and "as of" is a filter on entry time."""

    append_only = True

    class Meta(Governed.Meta):
        abstract = True
