"""Validators named by collection rules (R5). A rule names its validator; the names map here onto the
national standards in sidms.lib and onto the code tables, so rules stay data and standards stay code.

Each validator also says which fields it fits (``fits``): the rules editor offers only those, and a rule
that puts a validator on a field it does not fit is refused (a postcode checked as a sex code). A field with
declared choices is checked against those choices themselves (``choices``), so no entity's codes live here.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.core.errors import Invalid
from sidms.lib import email as email_lib
from sidms.lib import idcard, phone, uscc
from sidms.parameters.codes import district_codes, is_code, region_codes


@dataclass(frozen=True)
class Checked:
    value: Any  # the normalised value to store
    warnings: tuple[str, ...] = field(default=())


def _idcard(value: Any) -> Checked:
    try:
        parsed = idcard.parse(str(value), known_address_codes=region_codes())
    except idcard.InvalidIdNumber as error:
        raise Invalid.of(error) from None
    return Checked(parsed.number, parsed.warnings)


def _uscc(value: Any) -> Checked:
    try:
        return Checked(uscc.parse(str(value)).code)
    except uscc.InvalidCreditCode as error:
        raise Invalid.of(error) from None


def _phone_number(value: Any) -> phone.PhoneNumber:
    try:
        return phone.parse(str(value))
    except phone.InvalidPhone as error:
        raise Invalid.of(error) from None


def _personal_phone(value: Any) -> Checked:
    """A person's phone is a mobile or fixed-line number they can be reached at: not 110, not 10086."""
    number = _phone_number(value)
    if number.kind not in ("mobile", "fixed"):
        raise Invalid(
            "not_personal",
            _("Enter an 11-digit mobile number, or a landline with its area code (e.g. 0631-5221234)."),
        )
    return Checked(number.number)


def _service_phone(value: Any) -> Checked:
    """A unit's or institution's service line may also be a hotline (400/800) or a service number."""
    return Checked(_phone_number(value).number)


def _email(value: Any) -> Checked:
    try:
        return Checked(email_lib.parse(str(value)))
    except email_lib.InvalidEmail as error:
        raise Invalid.of(error) from None


_NAME = re.compile(r"^[\u3400-\u9fff\uf900-\ufaffA-Za-z·・\.\- ]{2,50}$")


def _person_name(value: Any) -> Checked:
    text = str(value).strip()
    if not _NAME.match(text):
        raise Invalid(
            "name",
            _("A name is 2 to 50 Chinese characters or letters, with '·' allowed, and no digits or symbols."),
        )
    return Checked(text)


def _require_half_width(text: str) -> None:
    """Digits typed with the input method in full-width mode (１２３) or from another script look like digits
    and are digits to Python's \\d and isdigit(), but are other characters: stored as typed they would
    index and compare differently from the same number in ASCII. Refused with a word on what to do."""
    if any(not ch.isascii() and unicodedata.category(ch) == "Nd" for ch in text) or "\u3000" in text:
        raise Invalid("full_width", _("Use half-width digits (switch the input method to half-width)."))


def _postcode(value: Any) -> Checked:
    text = str(value).strip()
    _require_half_width(text)
    if not re.fullmatch(r"[0-9]{6}", text):
        raise Invalid("postcode", _("A postcode has 6 digits."))
    return Checked(text)


def _luhn_ok(digits: str) -> bool:
    # Luhn is five lines; a dependency for it would cost more than it saves.
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _bank_account(value: Any) -> Checked:
    digits = re.sub(r"[ -]", "", str(value).strip())
    _require_half_width(digits)
    if not re.fullmatch(r"[0-9]{16,19}", digits):
        raise Invalid("bank_account", _("A bank card number has 16 to 19 digits."))
    if not _luhn_ok(digits):
        raise Invalid("bank_account_check", _("The bank card number's check digit is wrong; check it."))
    return Checked(digits)


def _date(value: Any) -> Checked:
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise Invalid("date", _("Write the date as YYYY-MM-DD, for example 2024-03-01.")) from None
    if not date(1880, 1, 1) <= day <= date(2199, 12, 31):
        raise Invalid("date_range", _("The date %(date)s is out of range."), {"date": day.isoformat()})
    return Checked(day)


def _district(value: Any) -> Checked:
    code = str(value).strip()
    if code not in district_codes():
        raise Invalid("district", _("%(code)s is not a district of the city."), {"code": code})
    return Checked(code)


def _region(value: Any) -> Checked:
    code = str(value).strip()
    if code not in region_codes():
        raise Invalid("region", _("%(code)s is not a known division code."), {"code": code})
    return Checked(code)


def _code_table(table: str) -> Callable[[Any], Checked]:
    def check(value: Any) -> Checked:
        code = str(value).strip()
        if not is_code(table, code):
            raise Invalid("code", _("“%(code)s” is not in the code table."), {"code": code})
        return Checked(code)

    return check


def _choices(values: tuple[str, ...]) -> Callable[[Any], Checked]:
    def check(value: Any) -> Checked:
        code = str(value).strip()
        if code not in values:
            raise Invalid("code", _("Choose one of the listed values."))
        return Checked(code)

    return check


def _text(value: Any) -> Checked:
    return Checked(str(value).strip())


def _record(value: Any) -> Checked:
    """A reference to another record; its existence is checked by the pipeline, which knows the target."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise Invalid("record", _("Choose an existing record."))
    return Checked(text)


# (validator, what it fits). The kinds of field (``field_kind``): "text", "date", "district", "record",
# "code:<table>", "choice:<value|value|…>".
_CHOICE_SETS = {
    "sex": ("1", "2", "9"),
    "risk_class": tuple(str(i) for i in range(1, 9)),
    "status": ("active", "suspended", "closed"),
}
VALIDATORS: dict[str, Callable[[Any], Checked]] = {
    "": _text,
    "text": _text,
    "idcard": _idcard,
    "uscc": _uscc,
    "phone": _personal_phone,
    "phone_or_service": _service_phone,
    "email": _email,
    "person_name": _person_name,
    "postcode": _postcode,
    "bank_account": _bank_account,
    "date": _date,
    "district": _district,
    "region": _region,
    "record": _record,
    **{name: _choices(values) for name, values in _CHOICE_SETS.items()},
}
_TEXT_VALIDATORS = (
    "text", "idcard", "uscc", "phone", "phone_or_service", "email", "person_name", "postcode", "bank_account",
)  # fmt: skip


def validator(name: str, choices: Iterable[Any] = ()) -> Callable[[Any], Checked]:
    """The check a rule names; "choices" checks against CHOICES, the field's own declared values."""
    values = tuple(str(value) for value in choices)
    if name == "choices" or (values and name not in VALIDATORS and not name.startswith("code:")):
        # A field with declared choices is checked against them (also under a name a database's first
        # migration gave such a check).
        return _choices(values)
    if name.startswith("code:"):
        return _code_table(name.removeprefix("code:"))
    try:
        return VALIDATORS[name]
    except KeyError:
        raise ValueError(f"unknown validator {name!r}") from None


def is_known_validator(name: str) -> bool:
    return name.startswith("code:") or name in VALIDATORS or name == "choices"


def field_kind(model_field: models.Field[Any, Any], code_table: str | None) -> str:
    """What kind of value a governed field holds, for matching validators to it."""
    if code_table:
        return f"code:{code_table}"
    if isinstance(model_field, models.DateField):
        return "date"
    if model_field.is_relation:
        related = model_field.related_model
        if related is not None and related._meta.label_lower == "parameters.region":
            return "district"
        return "record"
    if model_field.choices:
        return "choice:" + "|".join(sorted(str(value) for value, _label in model_field.flatchoices))
    return "text"


def fitting_validators(kind: str, *, tables: tuple[str, ...] = ()) -> list[str]:
    """The validator names that fit a field of KIND (the rules editor offers these, and only these)."""
    if kind == "text":
        return list(_TEXT_VALIDATORS)
    if kind == "date":
        return ["date"]
    if kind == "district":
        return ["district", "region"]
    if kind == "record":
        return ["record"]
    if kind.startswith("code:"):
        return [kind]
    if kind.startswith("choice:"):
        values = tuple(sorted(kind.removeprefix("choice:").split("|")))
        named = [name for name, allowed in _CHOICE_SETS.items() if tuple(sorted(allowed)) == values]
        return [*named, "choices"]
    return ["text"]


# Text checks that may stand in for one another on a field (a person's phone, or a service line). Any other
# text field takes its declared check or none: an e-mail field is never given the ID-number check.
TEXT_FAMILIES = ({"phone", "phone_or_service"},)


def fitting_text(declared: str) -> list[str]:
    family = next((f for f in TEXT_FAMILIES if declared in f), {declared})
    return [*sorted(v for v in family if v != "text"), "text"]


# Derivations of one field from another by a standard (the declarations' ``derived``).
@functools.lru_cache(maxsize=8)
def _parsed_idcard(id_number: str) -> idcard.IdNumber:
    # Sex and birth date are derived from the same number one after the other: parsed once.
    return idcard.parse(id_number)


def _idcard_sex(id_number: str) -> Any:
    return _parsed_idcard(id_number).sex


def _idcard_birth_date(id_number: str) -> Any:
    return _parsed_idcard(id_number).birth_date


DERIVATIONS: dict[str, Callable[[str], Any]] = {
    "idcard_sex": _idcard_sex,
    "idcard_birth_date": _idcard_birth_date,
}
