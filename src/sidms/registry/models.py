"""Base data (R2.1): units, persons, agencies and their staff, service institutions, employment.

Personal identifiers (ID number, phone, bank account) are stored only as ciphertext, each with a blind
index for exact-match lookup; the database never holds them in plain text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.security.fields import BlindIndexField, EncryptedTextField


class Sex(models.TextChoices):
    """GB/T 2261.1."""

    MALE = "1", _("Male")
    FEMALE = "2", _("Female")
    UNSTATED = "9", _("Not stated")


class RecordStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class Post(models.TextChoices):
    """Staff posts (R4). A staff member may hold several; separation of duties compares people, not posts."""

    WINDOW_CLERK = "window_clerk", _("Window clerk")
    REVIEWER = "reviewer", _("Reviewer")
    APPROVER = "approver", _("Approver")
    RECHECKER = "rechecker", _("Re-checker")
    CITY_ADMIN = "city_admin", _("City-level system administrator")
    STATISTICIAN = "statistician", _("Statistician")
    AUDITOR = "auditor", _("Auditor")
    INFO_CENTRE = "info_centre", _("Information centre")
    SUPERVISOR = "supervisor", _("Supervising department")


class AgencyLevel(models.TextChoices):
    CITY = "city", _("City level")
    DISTRICT = "district", _("District level")


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


class GovernedQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        _guard(self.model, "update()")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        _guard(self.model, "delete()")
        return super().delete()

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[Any]:
        _guard(self.model, "bulk_create()")
        return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        _guard(self.model, "bulk_update()")
        return super().bulk_update(*args, **kwargs)


class Governed(models.Model):
    """Rows that change only through the change pipeline; version and digest tie them to their history.
    Saving, updating or deleting one anywhere else raises UngovernedWrite."""

    version = models.PositiveIntegerField(_("version"), default=1)
    row_digest = models.CharField(_("row digest"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    objects = GovernedQuerySet.as_manager()

    class Meta:
        abstract = True
        # Django's internal writes (related-object access, cascades) go through the guarded manager too.
        base_manager_name = "objects"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _guard(type(self), "save()")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        _guard(type(self), "delete()")
        return super().delete(*args, **kwargs)


class Agency(Governed):
    code = models.CharField(_("agency code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=16, choices=AgencyLevel.choices)
    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, verbose_name=_("district"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return self.name


class Staff(AbstractUser):
    """A member of agency staff. Login is password + TOTP; the district fixes the data scope."""

    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("agency")
    )
    district = models.ForeignKey(
        "parameters.Region", null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("district")
    )
    # R16: without a valid confidentiality agreement there is no access.
    agreement_signed_on = models.DateField(_("confidentiality agreement signed on"), null=True, blank=True)
    agreement_expires_on = models.DateField(_("confidentiality agreement expires on"), null=True, blank=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    @property
    def posts(self) -> frozenset[str]:
        cached: frozenset[str] | None = getattr(self, "_posts_cache", None)
        if cached is None:
            cached = frozenset(self.post_set.values_list("post", flat=True))
            self._posts_cache = cached
        return cached

    @property
    def is_city_level(self) -> bool:
        return self.district_id == settings.SIDMS_CITY_DISTRICT

    def has_valid_agreement(self, today: object = None) -> bool:
        day = today or timezone.localdate()
        return (
            self.agreement_signed_on is not None
            and self.agreement_signed_on <= day  # type: ignore[operator]
            and (self.agreement_expires_on is None or self.agreement_expires_on >= day)  # type: ignore[operator]
        )


class StaffPost(models.Model):
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="post_set")
    post = models.CharField(_("post"), max_length=32, choices=Post.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["staff", "post"], name="staffpost_unique")]
        verbose_name = _("post")
        verbose_name_plural = _("posts")

    def __str__(self) -> str:
        return f"{self.staff_id}:{self.post}"


class Unit(Governed):
    """An insured unit (参保单位): enterprise, government body, public institution, school, …"""

    unit_no = models.CharField(_("unit number"), max_length=20, unique=True)  # AAB001
    name = models.CharField(_("unit name"), max_length=200, db_index=True)  # AAB004
    credit_code = models.CharField(_("unified social credit code"), max_length=18, db_index=True)
    org_code = models.CharField(_("organisation code"), max_length=10, blank=True)
    unit_type = models.CharField(_("unit type"), max_length=32)  # code table unit_type
    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, verbose_name=_("district"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=6, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=50, blank=True)
    phone = EncryptedTextField(_("phone"), domain="unit.phone")
    phone_index = BlindIndexField(source="phone", domain="unit.phone", normaliser="digits")
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    industry_risk_class = models.CharField(_("industry risk class"), max_length=2, blank=True)  # AAA149
    status = models.CharField(_("status"), max_length=16, choices=RecordStatus.choices, default="active")

    class Meta:
        ordering = ["unit_no"]
        indexes = [models.Index(fields=["district", "unit_no"], name="unit_district_no")]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self) -> str:
        return self.name


class Person(Governed):
    """An insured person (参保人员). Birth date and sex are kept as recorded, not derived, so that a record
    that disagrees with its ID number can be found by the quality checks."""

    person_no = models.CharField(_("person number"), max_length=20, unique=True)  # AAC001
    id_number = EncryptedTextField(_("citizen ID number"), domain="person.id_number")  # AAC002
    id_number_index = BlindIndexField(source="id_number", domain="person.id_number", normaliser="idcard")
    name = models.CharField(_("full name"), max_length=50, db_index=True)  # AAC003
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)  # AAC004
    birth_date = models.DateField(_("birth date"), null=True, blank=True)  # AAC006
    category = models.CharField(_("person category"), max_length=32)  # code table person_category
    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, verbose_name=_("district"))
    phone = EncryptedTextField(_("phone"), domain="person.phone")
    phone_index = BlindIndexField(source="phone", domain="person.phone", normaliser="digits")
    # Encrypted too: Chinese personal addresses are often the mobile number (13906311234@139.com).
    email = EncryptedTextField(_("e-mail"), domain="person.email")
    email_index = BlindIndexField(source="email", domain="person.email", normaliser="text")
    address = models.CharField(_("address"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=6, blank=True)
    bank_account = EncryptedTextField(_("bank account"), domain="person.bank_account")
    bank_account_index = BlindIndexField(
        source="bank_account", domain="person.bank_account", normaliser="digits"
    )
    status = models.CharField(_("status"), max_length=16, choices=RecordStatus.choices, default="active")

    class Meta:
        ordering = ["person_no"]
        indexes = [models.Index(fields=["district", "person_no"], name="person_district_no")]
        verbose_name = _("person")
        verbose_name_plural = _("persons")

    def __str__(self) -> str:
        return f"{self.person_no} {self.name}"


class Employment(Governed):
    """A person's employment at a unit; at most one should be current (the quality checks look)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="employments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="employments")
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)

    class Meta:
        ordering = ["-start_date"]
        verbose_name = _("employment")
        verbose_name_plural = _("employments")

    def __str__(self) -> str:
        return f"{self.person_id}@{self.unit_id}"


class ServiceInstitution(Governed):
    """A service unit: HR-and-social-security station, designated medical or pharmacy institution,
    work-injury rehabilitation institution, partner bank."""

    code = models.CharField(_("institution code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("institution type"), max_length=32)  # code table service_kind
    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, verbose_name=_("district"))
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=RecordStatus.choices, default="active")

    class Meta:
        ordering = ["code"]
        verbose_name = _("service institution")
        verbose_name_plural = _("service institutions")

    def __str__(self) -> str:
        return self.name
