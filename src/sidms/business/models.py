"""Business data of the five insurances (issue 8): versioned policy parameters, enrolments, contribution
bases, the contribution ledger and its assessment runs.

Parameter versions are append-only rows vouched for by the audit chain (sidms.business.parameters);
enrolments and base declarations are governed registry records (declared, written through sidms.changes);
ledger entries are ``LedgerFact`` rows, each run's entries vouched for by one Merkle root in its audit event
(sidms.business.ledger).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.core.declare import Declaration
from sidms.core.governed import RegistryRecord


class ParameterKind(models.TextChoices):
    POLICY = "policy", _("Policy parameter")
    BUSINESS = "business", _("Business-handling parameter")
    SYSTEM = "system", _("System parameter")


class ParameterVersion(models.Model):
    """One version of one parameter for one region ("" = the whole city), effective from a date.

    Rows are never changed (append-only triggers): a new value is a new version, proposed by one city-level
    system administrator and confirmed by a second. Each row carries a keyed digest over its content, and an
    audit event of the chain names the row and that digest, so a version altered, inserted or deleted
    behind the system's back is named by ``sidms audit verify``.
    """

    append_only: ClassVar[bool] = True

    key = models.CharField(_("parameter"), max_length=64)
    region = models.CharField(_("region"), max_length=6, blank=True, default="")
    version = models.PositiveIntegerField(_("version"))
    value = models.JSONField(_("value"))
    effective_from = models.DateField(_("effective from"))
    source = models.CharField(_("source document"), max_length=500)
    status = models.CharField(_("source status"), max_length=1)  # V / S / U of the business-rules notes
    checked = models.BooleanField(_("checked against the official notice"), default=False)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("recorded at"))
    created_by = models.CharField(_("recorded by"), max_length=150)
    digest = models.CharField(_("digest"), max_length=64)

    class Meta:
        ordering = ["key", "region", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "region", "version"], name="business_param_version")
        ]
        indexes = [models.Index(fields=["key", "region", "effective_from"], name="business_param_eff")]
        verbose_name = _("parameter version")
        verbose_name_plural = _("parameter versions")

    def __str__(self) -> str:
        return f"{self.key}@{self.region or '*'} v{self.version}"


# --------------------------------------------------------------------------------------------------------
# Enrolment (参保登记), issue 8 §2: registry records through the pipeline


class EnrolmentStatus(models.TextChoices):
    PAYING = "paying", _("Insured and paying")  # 参保缴费
    SUSPENDED = "suspended", _("Payment suspended")  # 暂停缴费
    TERMINATED = "terminated", _("Terminated")  # 终止缴费


class EnrolmentKind(models.TextChoices):
    EMPLOYEE = "employee", _("Employee at a unit")
    FLEXIBLE = "flexible", _("Flexible worker")
    RESIDENT = "resident", _("Resident")


class Tier(models.TextChoices):
    """Floating tiers of the work-injury rate, percent of the class's base rate (人社部发〔2015〕71号)."""

    T50 = "50", "50%"
    T80 = "80", "80%"
    T100 = "100", "100%"
    T120 = "120", "120%"
    T150 = "150", "150%"


class RiskClass(models.TextChoices):
    C1, C2, C3, C4 = ("1", "一类"), ("2", "二类"), ("3", "三类"), ("4", "四类")
    C5, C6, C7, C8 = ("5", "五类"), ("6", "六类"), ("7", "七类"), ("8", "八类")


_STATUS_RULES = (
    ("status", True, "choices", "system", ()),
    ("start_date", True, "date", "system", ()),
    ("status_date", False, "date", "system", ()),
    ("reason", False, "text", "none", ()),
)


class UnitEnrolment(RegistryRecord):
    """A unit's enrolment in one insurance (AAE140), with its industry risk class and floating tier for
    work injury (人社部发〔2015〕71号)."""

    unit = models.ForeignKey(
        "registry.Unit", on_delete=models.PROTECT, related_name="enrolments", verbose_name=_("unit")
    )
    insurance = models.CharField(_("insurance type"), max_length=3)  # code table AAE140
    industry_class = models.CharField(
        _("industry risk class"), max_length=1, choices=RiskClass.choices, blank=True
    )
    tier = models.CharField(_("floating tier"), max_length=3, choices=Tier.choices, blank=True)
    status = models.CharField(_("enrolment status"), max_length=12, choices=EnrolmentStatus.choices)
    start_date = models.DateField(_("enrolled on"))
    status_date = models.DateField(_("status since"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    governance = Declaration(
        entity="unit_enrolment",
        fields=("unit_id", "insurance", "industry_class", "tier", "status", "start_date", "status_date",
                "reason"),
        key="pk",
        district="unit__district",
        slug="unit-enrolments",
        list_columns=("unit_id", "insurance", "industry_class", "tier", "status", "start_date"),
        list_filters=("insurance", "status"),
        sortable=("start_date",),
        identity=("unit_id", "insurance"),
        codes={"insurance": "AAE140"},
        rules=(
            ("unit_id", True, "record", "system", ()),
            ("insurance", True, "code:AAE140", "system", ()),
            ("industry_class", False, "choices", "system", ()),
            ("tier", False, "choices", "system", ()),
            *_STATUS_RULES,
        ),
        extra={"nav": False, "view_permission": "record.view"},
    )  # fmt: skip

    class Meta:
        ordering = ["unit_id", "insurance"]
        verbose_name = _("unit enrolment")
        verbose_name_plural = _("unit enrolments")

    def __str__(self) -> str:
        return f"{self.unit_id}/{self.insurance}"


class PersonEnrolment(RegistryRecord):
    """A person's enrolment in one insurance: at a unit as an employee, as a flexible worker, or as a
    resident; one active enrolment per group of mutually exclusive schemes (parameter
    ``enrolment.exclusive_groups``)."""

    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="enrolments", verbose_name=_("person")
    )
    insurance = models.CharField(_("insurance type"), max_length=3)  # code table AAE140
    kind = models.CharField(_("enrolment kind"), max_length=12, choices=EnrolmentKind.choices)
    unit = models.ForeignKey(
        "registry.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="person_enrolments",
        verbose_name=_("unit"),
    )  # fmt: skip
    status = models.CharField(_("enrolment status"), max_length=12, choices=EnrolmentStatus.choices)
    start_date = models.DateField(_("enrolled on"))
    status_date = models.DateField(_("status since"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    governance = Declaration(
        entity="person_enrolment",
        fields=("person_id", "insurance", "kind", "unit_id", "status", "start_date", "status_date", "reason"),
        key="pk",
        district="person__district",
        slug="person-enrolments",
        list_columns=("person_id", "insurance", "kind", "unit_id", "status", "start_date"),
        list_filters=("insurance", "kind", "status"),
        sortable=("start_date",),
        identity=("person_id", "insurance"),
        codes={"insurance": "AAE140"},
        rules=(
            ("person_id", True, "record", "system", ()),
            ("insurance", True, "code:AAE140", "system", ()),
            ("kind", True, "choices", "system", ()),
            ("unit_id", False, "record", "system", ()),
            *_STATUS_RULES,
        ),
        extra={"nav": False, "view_permission": "record.view"},
    )

    class Meta:
        ordering = ["person_id", "insurance"]
        indexes = [models.Index(fields=["person", "insurance"], name="business_penrol_person")]
        verbose_name = _("person enrolment")
        verbose_name_plural = _("person enrolments")

    def __str__(self) -> str:
        return f"{self.person_id}/{self.insurance}"


class Death(RegistryRecord):
    """A registered death (死亡登记): no enrolment begins and no benefit is paid after it."""

    person = models.OneToOneField(
        "registry.Person", on_delete=models.PROTECT, related_name="death", verbose_name=_("person")
    )
    date_of_death = models.DateField(_("date of death"))
    source = models.CharField(_("reported by"), max_length=100)

    governance = Declaration(
        entity="death",
        fields=("person_id", "date_of_death", "source"),
        key="pk",
        district="person__district",
        slug="deaths",
        list_columns=("person_id", "date_of_death", "source"),
        sortable=("date_of_death",),
        identity=("person_id",),
        rules=(
            ("person_id", True, "record", "system", ()),
            ("date_of_death", True, "date", "system", ()),
            ("source", True, "text", "system", ()),
        ),
        extra={"nav": False, "view_permission": "record.view"},
    )

    class Meta:
        ordering = ["-date_of_death"]
        verbose_name = _("death")
        verbose_name_plural = _("deaths")

    def __str__(self) -> str:
        return f"{self.person_id}†{self.date_of_death}"


class BaseDeclaration(RegistryRecord):
    """A yearly contribution-base declaration (缴费基数申报, issue 8 §3): last year's average monthly wage as
    declared by the unit (or chosen by a flexible worker), and the base after the year's limits
    (国办发〔2019〕13号: 60 % – 300 % of the provincial average wage)."""

    person = models.ForeignKey(
        "registry.Person",
        on_delete=models.PROTECT,
        related_name="base_declarations",
        verbose_name=_("person"),
    )
    unit = models.ForeignKey(
        "registry.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="base_declarations",
        verbose_name=_("unit"),
    )  # fmt: skip
    year = models.PositiveIntegerField(_("year"))
    declared_wage = models.DecimalField(_("declared monthly wage"), max_digits=12, decimal_places=2)
    base = models.DecimalField(_("contribution base"), max_digits=12, decimal_places=2)

    governance = Declaration(
        entity="base_declaration",
        fields=("person_id", "unit_id", "year", "declared_wage", "base"),
        key="pk",
        district="person__district",
        slug="base-declarations",
        list_columns=("person_id", "unit_id", "year", "declared_wage", "base"),
        sortable=("year",),
        identity=("person_id", "year"),
        rules=(
            ("person_id", True, "record", "system", ()),
            ("unit_id", False, "record", "system", ()),
            ("year", True, "text", "system", ()),
            ("declared_wage", True, "text", "system", ()),
            ("base", True, "text", "system", ()),
        ),
        extra={"nav": False, "view_permission": "record.view"},
    )

    class Meta:
        ordering = ["-year"]
        constraints = [
            models.UniqueConstraint(fields=["person", "unit", "year"], name="business_base_person_unit_year")
        ]
        verbose_name = _("contribution base declaration")
        verbose_name_plural = _("contribution base declarations")

    def __str__(self) -> str:
        return f"{self.person_id}/{self.year}"
