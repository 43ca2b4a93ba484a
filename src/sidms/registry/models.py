"""Base data (R2.1): units, persons, agencies and their staff, service institutions, employment.

Personal identifiers (ID number, phone, e-mail, bank account) are stored only as ciphertext bound to their
record, each with a blind index for exact-match lookup; the database never holds them in plain text. Each
governed model declares what the kernel needs of it (sidms.core.declare) next to its fields.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.posts import Post
from sidms.core.declare import Declaration, Numbering, Search
from sidms.core.fields import BlindIndexField, EncryptedTextField
from sidms.core.governed import RegistryRecord
from sidms.core.prepared import Prepared


class Sex(models.TextChoices):
    """GB/T 2261.1."""

    MALE = "1", _("Male")
    FEMALE = "2", _("Female")
    UNSTATED = "9", _("Not stated")


class RecordStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class AgencyLevel(models.TextChoices):
    CITY = "city", _("City level")
    DISTRICT = "district", _("District level")


# Masks of personal values per channel (R10.1, R10.3): staff window, kiosk, online, phone line, export, and
# the history every timeline shows. Nothing shows a phone, account or e-mail in full once entered.
_EVERYWHERE = ("window", "kiosk", "online", "phone", "export", "history")


def _masked(mask: str, **overrides: str) -> dict[str, str]:
    return {channel: overrides.get(channel, mask) for channel in _EVERYWHERE}


class Agency(RegistryRecord):
    code = models.CharField(_("agency code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=16, choices=AgencyLevel.choices)
    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, verbose_name=_("district"))

    governance = Declaration(
        entity="agency",
        fields=("code", "name", "level", "district_id"),
        key="code",
        district="district",
        slug="agencies",
        title="name",
        search=Search((("code", "number"), ("name", "contains"))),
        list_columns=("code", "name", "level", "district_id"),
        list_filters=("level", "district_id"),
        sortable=("code", "name"),
        identity=("code",),
        rules=(
            ("code", True, "text", "system", ()),
            ("name", True, "text", "system", ()),
            ("level", True, "choices", "system", ()),
            ("district_id", True, "district", "system", ()),
        ),
    )

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
    # The first TOTP enrolment needs a one-time code that an administrator hands over out of band (a
    # keyed hash of it, and when it expires): the initial password alone cannot enrol a second factor.
    enrolment_code = models.CharField(_("enrolment code"), max_length=64, blank=True, editable=False)
    enrolment_expires = models.DateTimeField(
        _("enrolment code expires"), null=True, blank=True, editable=False
    )
    # Staff accounts change only through sidms.security.accounts, each change a revision and an audit
    # event; the digest of the account (credentials, posts, devices) must match its latest revision.
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)
    row_digest = models.CharField(_("row digest"), max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    @property
    def posts(self) -> frozenset[str]:
        cached: frozenset[str] | None = getattr(self, "_posts_cache", None)
        if cached is None:
            # Read on every request (a change of posts shows at the next page), by a query compiled once.
            cached = (
                frozenset(p.post for p in _POSTS.all(self.pk))
                if type(self.pk) is int
                else frozenset(self.post_set.values_list("post", flat=True))
            )
            self._posts_cache = cached
        return cached

    @property
    def is_city_level(self) -> bool:
        return self.district_id == settings.SIDMS_CITY_DISTRICT

    @property
    def display_name(self) -> str:
        return self.first_name or self.username

    def check_password(self, raw_password: str | None) -> bool:
        """The password check without Django's silent re-hash on sign-in: a new hash would change the
        account behind its history. Hashes are upgraded by sidms.security.accounts.staff_set_password."""
        from django.contrib.auth.hashers import check_password

        return check_password(raw_password, self.password)

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


_POSTS: Prepared[StaffPost] = Prepared(StaffPost, lambda staff: StaffPost.objects.filter(staff_id=staff), int)


class Unit(RegistryRecord):
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
    # One unit per 统一社会信用代码 (GB 32100 identifies one legal entity): the pipeline refuses a code
    # registered to another unit at every door, and the database's partial unique key (Meta) holds it
    # against two writers racing past that check. The only units spared are those a legacy migration kept
    # as found although their code was registered already (the demo's unit_name_variant, a live database's
    # duplicates when this key came): this flag marks them, their revision notes the duplicate, and the
    # quality work reports them. Not a declared field: set by the pipeline only (changes.services.apply_values
    # clears it when the code changes, changes.batches sets it for a legacy row it keeps), and in the row
    # digest while set (kernel.EntitySpec.flags; migration 0009), so a flip in SQL is named by verification.
    credit_code_duplicate = models.BooleanField(
        _("credit code kept as a legacy duplicate"), default=False, editable=False
    )

    governance = Declaration(
        entity="unit",
        fields=(
            "unit_no", "name", "credit_code", "org_code", "unit_type", "district_id", "address", "postcode",
            "contact_person", "phone", "email", "industry_risk_class", "status",
        ),
        key="unit_no",
        district="district",
        slug="units",
        title="name",
        numbering=Numbering(prefix="3710", serial_digits=6),
        search=Search((("credit_code", "credit_code"), ("unit_no", "number"), ("name", "contains"))),
        list_columns=("unit_no", "name", "credit_code", "unit_type", "district_id", "status"),
        list_filters=("unit_type", "status", "industry_risk_class", "district_id"),
        sortable=("unit_no", "name"),
        batch_select=("unit_type", "status", "industry_risk_class"),
        batch_change=("unit_type", "status", "address", "postcode", "contact_person"),
        identity=("unit_no", "name", "credit_code", "org_code"),
        crosscheck_subjects={"credit_code": "credit_code", "name": "name"},
        masks={"phone": _masked("full", history="phone", kiosk="phone", online="phone", phone="phone")},
        codes={"unit_type": "unit_type"},
        unique=("credit_code",),
        database_unique={"credit_code": "credit_code_duplicate"},
        rules=(
            ("unit_no", False, "text", "system", ()),
            ("name", True, "text", "manual", ("market_regulation", "tax")),
            ("credit_code", True, "uscc", "manual", ("market_regulation", "tax")),
            ("org_code", False, "text", "system", ()),
            ("unit_type", True, "code:unit_type", "system", ()),
            ("district_id", True, "district", "system", ()),
            ("address", False, "text", "none", ()),
            ("postcode", False, "postcode", "system", ()),
            ("contact_person", False, "text", "none", ()),
            ("phone", False, "phone_or_service", "system", ()),
            ("email", False, "email", "system", ()),
            ("industry_risk_class", False, "risk_class", "system", ()),
            ("status", True, "status", "system", ()),
        ),
    )  # fmt: skip

    class Meta:
        ordering = ["unit_no"]
        indexes = [models.Index(fields=["district", "unit_no"], name="unit_district_no")]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=models.Q(credit_code_duplicate=False) & ~models.Q(credit_code=""),
                name="unit_credit_code_unique",
            )
        ]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self) -> str:
        return self.name


class Person(RegistryRecord):
    """An insured person (参保人员). Birth date and sex are stored as well as derivable: a record migrated
    from the old system that disagrees with its ID number stays as found for the quality checks, while new
    entries must agree (the declaration's ``derived``)."""

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

    governance = Declaration(
        entity="person",
        fields=(
            "person_no", "id_number", "name", "sex", "birth_date", "category", "district_id", "phone",
            "email", "address", "postcode", "bank_account", "status",
        ),
        key="person_no",
        district="district",
        slug="persons",
        title="name",
        numbering=Numbering(prefix="37", serial_digits=7),
        search=Search((("id_number", "idcard"), ("person_no", "number"), ("name", "prefix"))),
        list_columns=("person_no", "name", "sex", "birth_date", "category", "district_id", "id_number"),
        list_filters=("category", "status", "sex", "district_id"),
        sortable=("person_no", "name", "birth_date"),
        batch_select=("category", "status", "sex"),
        batch_change=("category", "status", "address", "postcode", "bank_account"),
        identity=("person_no", "id_number", "name", "sex", "birth_date"),
        crosscheck_subjects={"id_number": "id_number", "name": "name"},
        access_record=True,
        masks={
            "id_number": _masked("id_number", phone="hidden"),
            "name": _masked("full", kiosk="name", phone="name"),
            "phone": _masked("phone"),
            "email": _masked("email"),
            "bank_account": _masked("account"),
        },
        codes={"category": "person_category"},
        unique=("id_number",),
        derived={"sex": ("id_number", "idcard_sex"), "birth_date": ("id_number", "idcard_birth_date")},
        rules=(
            ("person_no", False, "text", "system", ()),
            ("id_number", True, "idcard", "manual", ("public_security", "civil_affairs")),
            ("name", True, "person_name", "manual", ("public_security",)),
            ("sex", True, "sex", "system", ()),
            ("birth_date", True, "date", "system", ()),
            ("category", True, "code:person_category", "system", ()),
            ("district_id", True, "district", "system", ()),
            ("phone", False, "phone", "system", ()),
            ("email", False, "email", "system", ()),
            ("address", False, "text", "none", ()),
            ("postcode", False, "postcode", "system", ()),
            ("bank_account", False, "bank_account", "system", ()),
            ("status", True, "status", "system", ()),
        ),
    )  # fmt: skip

    class Meta:
        ordering = ["person_no"]
        indexes = [models.Index(fields=["district", "person_no"], name="person_district_no")]
        verbose_name = _("person")
        verbose_name_plural = _("persons")

    def __str__(self) -> str:
        return f"{self.person_no} {self.name}"


class Employment(RegistryRecord):
    """A person's employment at a unit; at most one should be current (the quality checks look). Its data
    scope is the person's district: the person's agency keeps their record, wherever the unit is."""

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="employments", verbose_name=_("person")
    )
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="employments", verbose_name=_("unit")
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)

    governance = Declaration(
        entity="employment",
        fields=("person_id", "unit_id", "start_date", "end_date"),
        key="pk",
        district="person__district",
        subject="person",
        slug="employments",
        list_columns=("person_id", "unit_id", "start_date", "end_date"),
        sortable=("start_date",),
        identity=("person_id", "unit_id"),
        rules=(
            ("person_id", True, "record", "system", ()),
            ("unit_id", True, "record", "system", ()),
            ("start_date", True, "date", "system", ()),
            ("end_date", False, "date", "system", ()),
        ),
    )

    class Meta:
        ordering = ["-start_date"]
        verbose_name = _("employment")
        verbose_name_plural = _("employments")

    def __str__(self) -> str:
        return f"{self.person_id}@{self.unit_id}"


class DelegatedQuery(RegistryRecord):
    """A query by a delegate (委托查询, R10.2): someone the insured person authorised in writing asks at the
    window for the person's records. The window registers the delegate and the written authorisation (授权委托书);
    the registration is held for a second person's review, and the archive department's rules make its
    approval wait for the authorisation's scan, accepted by an archive reviewer (issue 9, R7.4). Only an
    approved registration, until the date it names, lets the window issue the person's rights record to the
    delegate, and each statement so issued names the registration in its audit event.

    The delegate is a third party: their ID number is encrypted with a blind index (so that one delegate's
    queries for many persons can be found), and their name and number are masked on every page."""

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="delegated_queries", verbose_name=_("person")
    )
    delegate_name = models.CharField(_("delegate's name"), max_length=50)
    delegate_id_number = EncryptedTextField(
        _("delegate's ID number"), domain="delegated_query.delegate_id_number"
    )
    delegate_id_index = BlindIndexField(
        source="delegate_id_number", domain="delegated_query.delegate_id_number", normaliser="idcard"
    )
    purpose = models.CharField(_("purpose"), max_length=200)
    valid_until = models.DateField(_("authorised until"))

    governance = Declaration(
        entity="delegated_query",
        fields=("person_id", "delegate_name", "delegate_id_number", "purpose", "valid_until"),
        key="pk",
        district="person__district",
        subject="person",
        slug="delegated-queries",
        list_columns=("person_id", "delegate_name", "purpose", "valid_until"),
        sortable=("valid_until",),
        identity=("person_id", "delegate_name", "delegate_id_number"),
        masks={
            "delegate_name": _masked("name"),
            "delegate_id_number": _masked("id_number", phone="hidden"),
        },
        rules=(
            ("person_id", True, "record", "system", ()),
            ("delegate_name", True, "person_name", "manual", ()),
            ("delegate_id_number", True, "idcard", "manual", ()),
            ("purpose", True, "text", "manual", ()),
            ("valid_until", True, "date", "manual", ()),
        ),
        extra={"nav": False, "view_permission": "record.view"},
    )  # fmt: skip

    class Meta:
        ordering = ["-valid_until", "-pk"]
        verbose_name = _("delegated query")
        verbose_name_plural = _("delegated queries")

    def __str__(self) -> str:
        return f"{self.person_id}/委托查询{self.pk}"


class ServiceInstitution(RegistryRecord):
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

    governance = Declaration(
        entity="service_institution",
        fields=("code", "name", "kind", "district_id", "credit_code", "address", "phone", "status"),
        key="code",
        district="district",
        slug="institutions",
        title="name",
        search=Search((("credit_code", "credit_code"), ("code", "number"), ("name", "contains"))),
        list_columns=("code", "name", "kind", "district_id", "status"),
        list_filters=("kind", "status", "district_id"),
        sortable=("code", "name"),
        batch_select=("kind", "status"),
        batch_change=("status", "address"),
        identity=("code", "name", "credit_code"),
        crosscheck_subjects={"credit_code": "credit_code", "name": "name"},
        codes={"kind": "service_kind"},
        rules=(
            ("code", True, "text", "system", ()),
            ("name", True, "text", "system", ()),
            ("kind", True, "code:service_kind", "system", ()),
            ("district_id", True, "district", "system", ()),
            ("credit_code", False, "uscc", "manual", ("market_regulation",)),
            ("address", False, "text", "none", ()),
            ("phone", False, "phone_or_service", "system", ()),
            ("status", True, "status", "system", ()),
        ),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("service institution")
        verbose_name_plural = _("service institutions")

    def __str__(self) -> str:
        return self.name
