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

from sidms.core.declare import Apart, Declaration
from sidms.core.governed import LedgerFact, RegistryRecord


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
        subject="person",
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
        subject="person",
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
    # Text, exactly as declared and as history holds it (the kernel's digests represent values as text; a
    # DecimalField comes back from SQLite as a float). Amounts are yuan with two decimals.
    year = models.CharField(_("year"), max_length=4)
    declared_wage = models.CharField(_("declared monthly wage"), max_length=14)
    base = models.CharField(_("contribution base"), max_length=14)

    governance = Declaration(
        entity="base_declaration",
        fields=("person_id", "unit_id", "year", "declared_wage", "base"),
        key="pk",
        district="person__district",
        subject="person",
        slug="base-declarations",
        list_columns=("person_id", "unit_id", "year", "declared_wage", "base"),
        money=("declared_wage", "base"),
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


# --------------------------------------------------------------------------------------------------------
# The contribution ledger and its runs (issue 8 §4–§6)


class RunKind(models.TextChoices):
    ASSESSMENT = "assessment", _("Monthly assessment")  # 核定
    CORRECTION = "correction", _("Correction")
    PAYMENT = "payment", _("Payment extract")
    INTEREST = "interest", _("Year-end interest")
    PENSION = "pension", _("Monthly pension payment")
    # 养老保险关系转移接续 (国办发〔2009〕66号): months contributed in another region and the personal account
    # transferred with them (sidms.business.transfers)
    TRANSFER_IN = "transfer_in", _("Transfer in from another region")


class RunStatus(models.TextChoices):
    APPLIED = "applied", _("Applied for")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    EXECUTED = "executed", _("Executed")


class AssessmentRun(models.Model):
    """A run that writes ledger entries: applied for, approved by a second person, executed once.

    The row carries a keyed seal and a step (``sidms.changes.seals``); each step's audit event records both,
    and the execution's event records the Merkle root of the entries written (sidms.business.ledger)."""

    object_type: ClassVar[str] = "business_run"

    kind = models.CharField(_("run kind"), max_length=12, choices=RunKind.choices)
    period = models.CharField(_("period"), max_length=7)  # YYYY-MM, or YYYY for the year-end interest
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default="applied")
    applied_by = models.ForeignKey(
        "registry.Staff", on_delete=models.PROTECT, related_name="+", verbose_name=_("applied by")
    )
    applied_at = models.DateTimeField(_("applied at"))
    decided_by = models.ForeignKey(
        "registry.Staff", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("decided by"),
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    executed_by = models.ForeignKey(
        "registry.Staff", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("executed by"),
    )  # fmt: skip
    executed_at = models.DateTimeField(_("executed at"), null=True, blank=True)
    entries = models.PositiveIntegerField(_("entries"), default=0)
    root = models.CharField(_("Merkle root"), max_length=64, blank=True)
    step = models.PositiveIntegerField(_("step"), default=1)
    seal = models.CharField(_("seal"), max_length=64, blank=True)

    class Meta:
        ordering = ["-period", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period"],
                condition=models.Q(kind__in=["assessment", "interest", "pension"])
                & ~models.Q(status="rejected"),
                name="business_run_once_per_period",
            )
        ]
        verbose_name = _("ledger run")
        verbose_name_plural = _("ledger runs")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period}"


class EntryKind(models.TextChoices):
    ASSESSED = "assessed", _("Assessed")  # 核定应缴
    PAID = "paid", _("Paid")  # 实缴
    REVERSAL = "reversal", _("Reversal")  # 冲销
    SUPPLEMENTARY = "supplementary", _("Supplementary")  # 补缴
    LATE_FEE = "late_fee", _("Late fee")  # 滞纳金
    INTEREST = "interest", _("Account interest")  # 个人账户利息
    BENEFIT = "benefit", _("Benefit payment")  # 待遇支付 (a monthly benefit's month)
    # 一次性待遇支付: a one-time benefit, dated by its event. Apart from BENEFIT because both kinds of the
    # work-injury fund (410) are paid under one insurance: a one-time grant dated the first of a month whose
    # monthly allowance was paid already was taken as paid and never paid (attack round 6).
    BENEFIT_ONCE = "benefit_once", _("One-time benefit payment")
    # 外地转入 (国办发〔2009〕66号, sidms.business.transfers): one month contributed in another region, with its
    # base and the pooled fund transferred for it (unit_amount); shown ○ on the rights record and counted in
    # the months of contribution. No account credit: the account moves as one TRANSFER_ACCOUNT entry.
    TRANSFERRED = "transferred", _("Month transferred in")
    # 转入个人账户储存额: the personal-account balance transferred in, credited to the account on its entry
    # date (the transfer's) and earning interest from its period on, as a month's paid credit does.
    TRANSFER_ACCOUNT = "transfer_account", _("Account balance transferred in")


# What the history index carries besides its keys (person, period): the columns the rights record reads,
# those it shows and the rest of what each entry's keyed digest covers, with the digest (rights._READ: the
# record checks every entry it counts, business.ledger.forged_rows).
HISTORY_COLUMNS = ("id", "insurance", "kind", "base", "entry_date", "settles", "corrects", "account_credit",
                   "unit_amount", "individual_amount", "uid", "unit", "unit_rate", "individual_rate", "run",
                   "created_at", "row_digest")  # fmt: skip


class LedgerEntry(LedgerFact):
    """One fact of the contribution ledger: never changed; a correction reverses it and adds a new entry,
    both naming it (``corrects``). Written only by an executed run, whose audit event vouches for all its
    entries with one Merkle root. The ledger as of an instant is a filter on ``created_at``."""

    period = models.CharField(_("period"), max_length=7)  # YYYY-MM
    # No index of their own: the (person, period) and (unit, period) indexes below lead with them (two
    # indexes fewer for every entry a run writes).
    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="ledger", verbose_name=_("person"),
        db_index=False,
    )  # fmt: skip
    unit = models.ForeignKey(
        "registry.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger",
        verbose_name=_("unit"), db_index=False,
    )  # fmt: skip
    insurance = models.CharField(_("insurance type"), max_length=3)
    kind = models.CharField(_("entry kind"), max_length=16, choices=EntryKind.choices)
    base = models.DecimalField(_("contribution base"), max_digits=12, decimal_places=2, null=True)
    unit_rate = models.DecimalField(_("unit rate"), max_digits=8, decimal_places=6, null=True)
    individual_rate = models.DecimalField(_("individual rate"), max_digits=8, decimal_places=6, null=True)
    unit_amount = models.DecimalField(_("unit amount"), max_digits=14, decimal_places=2, default=0)
    individual_amount = models.DecimalField(
        _("individual amount"), max_digits=14, decimal_places=2, default=0
    )
    account_credit = models.DecimalField(_("account credit"), max_digits=14, decimal_places=2, default=0)
    entry_date = models.DateField(_("entry date"))
    run = models.ForeignKey(AssessmentRun, on_delete=models.PROTECT, related_name="ledger_entries")
    # On PostgreSQL the table is partitioned by period (sidms.business.partitions, migration 0007): its keys
    # are (id, period) and (uid, period), and these two self-references have no database foreign key there
    # (none can reference a partitioned table by id alone); SQLite keeps both. ledger.verify_ledger_keys
    # checks what they would. db_constraint stays True so that SQLite's table is unchanged; a later
    # migration altering these two columns must be written with PostgreSQL's missing keys in mind.
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections",
        verbose_name=_("corrects"),
    )  # fmt: skip
    settles = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="settlements",
        verbose_name=_("settles"),
    )  # fmt: skip

    governance = Declaration(
        entity="ledger_entry",
        fields=("period", "person_id", "unit_id", "insurance", "kind", "base", "unit_rate", "individual_rate",
                "unit_amount", "individual_amount", "account_credit", "entry_date", "run_id", "corrects_id",
                "settles_id"),
        key="pk",
        district="person__district",
        subject="person",
        list_columns=("period", "insurance", "kind", "base", "unit_amount", "individual_amount"),
        money=("base", "unit_amount", "individual_amount", "account_credit"),
        codes={"insurance": "AAE140"},
        extra={"nav": False, "view_permission": "record.view"},
    )  # fmt: skip

    class Meta:
        ordering = ["period", "pk"]
        indexes = [
            # One person's history (the rights record, its statements): on PostgreSQL the columns the rights
            # record reads (rights._READ) are carried in the index, so a person's entries are read
            # by an index-only scan from a few adjacent index pages instead of one heap page per entry: a
            # run writes a month for everyone at once, so a person's entries lie on as many pages as he
            # has entries. SQLite ignores INCLUDE (models.W040, silenced in settings).
            models.Index(
                fields=["person", "period"], name="business_ledger_history", include=HISTORY_COLUMNS
            ),
            models.Index(fields=["unit", "period"], name="business_ledger_unit"),
            models.Index(fields=["period", "kind"], name="business_ledger_period"),
        ]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")

    def __str__(self) -> str:
        return f"{self.period} {self.person_id}/{self.insurance} {self.kind}"


class IssuedStatement(models.Model):
    """A 社会保险个人权益记录单 as issued (Order 14; 社会保险法 Art. 74): what the public verification page
    needs and nothing more — the statement id, its digest, the cut-off, the issuing agency and the masked
    name. Rows are never changed; each is vouched for by its audit event, which records the row's keyed seal."""

    append_only: ClassVar[bool] = True

    statement_id = models.CharField(_("statement id"), max_length=32, unique=True)
    number = models.CharField(_("verification number"), max_length=20, unique=True)
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveIntegerField(_("year"))
    cut_off = models.DateField(_("data cut-off"))
    agency = models.CharField(_("issuing agency"), max_length=100)
    masked_name = models.CharField(_("name"), max_length=50)
    digest = models.CharField(_("digest"), max_length=64)
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = models.CharField(_("issued by"), max_length=150)

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("issued statement")
        verbose_name_plural = _("issued statements")

    def __str__(self) -> str:
        return f"{self.statement_id} {self.masked_name} {self.cut_off}"


class BenefitKind(models.TextChoices):
    PENSION = "pension", _("Basic pension")  # 基本养老金
    UNEMPLOYMENT = "unemployment", _("Unemployment benefit")  # 失业保险金
    WORK_INJURY = "work_injury", _("One-time disability grant")  # 一次性伤残补助金
    # 伤残津贴 (工伤保险条例 Art. 35): monthly from the work-injury fund, grades 1–4, until retirement
    INJURY_ALLOWANCE = "injury_allowance", _("Disability allowance")
    # 伤残津贴差额 (Art. 35): after retirement, the fund makes up a basic pension below the allowance
    INJURY_TOP_UP = "injury_top_up", _("Disability allowance top-up")
    MATERNITY = "maternity", _("Maternity allowance")  # 生育津贴


# The benefits paid once, on their event (a one-time grant), not month by month: their amount is the grant's.
ONE_TIME_KINDS = (BenefitKind.WORK_INJURY, BenefitKind.MATERNITY)


class EntitlementStatus(models.TextChoices):
    ACTIVE = "active", _("Being paid")
    SUSPENDED = "suspended", _("Suspended")
    ENDED = "ended", _("Ended")


class Entitlement(RegistryRecord):
    """An approved benefit entitlement (待遇核定, issue 8 §7): its monthly amount and how it was computed,
    and the last eligibility certification (待遇领取资格认证) of its recipient.

    Four eyes: a new entitlement, and any change of its benefit, dates, amount or status, is held for a
    second person's review (level "manual"); the window clerk alone neither grants nor raises a benefit
    (attack round 3), nor rewrites the basis the amount was computed on (attack round 5). The recipient cannot change (identity); the certification date stays "system": it
    grants no money, cannot lie in the future (:func:`sidms.business.benefits.check_entitlement`), and a
    registered death stops payment whatever it says."""

    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="entitlements", verbose_name=_("person")
    )
    kind = models.CharField(_("benefit"), max_length=16, choices=BenefitKind.choices)
    start_date = models.DateField(_("paid from"))
    end_date = models.DateField(_("paid until"), null=True, blank=True)
    monthly_amount = models.CharField(_("monthly amount"), max_length=14)  # yuan, two decimals
    basis = models.CharField(_("computed from"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=EntitlementStatus.choices)
    certified_on = models.DateField(_("last certified"), null=True, blank=True)
    # 工伤保险条例 Art. 62: a work-injury benefit is the fund's only for an injury while the person was insured
    # against work injury (410); the day of the accident (or of the occupational disease's diagnosis) is what
    # the entry rule checks the enrolment on (sidms.business.benefits._check_injury_insured). Empty for the
    # other benefits, and for work-injury entitlements recorded before it existed.
    injury_date = models.DateField(_("date of injury"), null=True, blank=True)

    governance = Declaration(
        entity="entitlement",
        fields=("person_id", "kind", "start_date", "end_date", "monthly_amount", "basis", "status",
                "certified_on", "injury_date"),
        key="pk",
        district="person__district",
        subject="person",
        slug="entitlements",
        list_columns=("person_id", "kind", "start_date", "monthly_amount", "one_time_amount", "status",
                      "certified_on"),
        money=("monthly_amount",),
        # A one-time grant's amount is not a monthly one: listed and exported as 一次性待遇金额.
        apart=(Apart("monthly_amount", "one_time_amount", _("one-time amount"), "kind",
                     tuple(str(kind) for kind in ONE_TIME_KINDS)),),
        list_filters=("kind", "status"),
        sortable=("start_date",),
        identity=("person_id", "kind"),
        rules=(
            ("person_id", True, "record", "system", ()),
            ("kind", True, "choices", "manual", ()),
            ("start_date", True, "date", "manual", ()),
            ("end_date", False, "date", "manual", ()),
            ("monthly_amount", True, "text", "manual", ()),
            ("basis", False, "text", "manual", ()),  # the computation the amount rests on (attack round 5)
            ("status", True, "choices", "manual", ()),
            ("certified_on", False, "date", "system", ()),
            ("injury_date", False, "date", "manual", ()),  # decides whether the fund pays (Art. 62)
        ),
        extra={"nav": False, "view_permission": "record.view"},
    )  # fmt: skip

    class Meta:
        ordering = ["-start_date"]
        verbose_name = _("benefit entitlement")
        verbose_name_plural = _("benefit entitlements")

    def __str__(self) -> str:
        return f"{self.person_id}/{self.kind}"
