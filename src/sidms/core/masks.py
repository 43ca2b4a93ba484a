"""Masks for personal values, by name (the declarations name them per field and channel).

Masked values look masked (notes/ux-conventions.md): 371002********0011, 152****0698, 6222 **** **** 6855.
"""

from __future__ import annotations

from collections.abc import Callable


def mask_id_number(value: str) -> str:
    """Show the address code and the last four characters: enough to tell people apart at a window."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    digits = value.replace("-", "")
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_account(value: str) -> str:
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + " **** **** " + value[-4:]


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    if not domain:
        return "*" * len(value)
    return (local[:2] + "****" if len(local) > 2 else "****") + "@" + domain


def mask_name(value: str) -> str:
    """张* / 欧阳** : the surname and a star per further character (what a phone line or kiosk shows)."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


MASKS: dict[str, Callable[[str], str]] = {
    "full": lambda value: value,
    "hidden": lambda value: "******" if value else "",
    "id_number": mask_id_number,
    "phone": mask_phone,
    "account": mask_account,
    "email": mask_email,
    "name": mask_name,
}


def apply(mask: str, value: str) -> str:
    return MASKS[mask](value)
