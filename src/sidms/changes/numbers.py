"""System-assigned record numbers (个人编号, 单位编号): never typed, unique, with a check digit."""

from __future__ import annotations

from collections.abc import Collection

from sidms.core.kernel import EntitySpec
from sidms.core.models import NumberSequence
from sidms.lib import recordno


def assign_number(spec: EntitySpec) -> str:
    """The next number of SPEC's declared format. The sequence row is locked for the transaction; the first
    time, it starts after the highest number of this format already stored (numbers migrated from the old
    system in other formats are left alone, and a number already taken is skipped)."""
    return assign_numbers(spec, 1)[0]


def _highest(spec: EntitySpec) -> int:
    numbering = spec.declaration.numbering
    assert numbering is not None
    key = spec.label_field
    candidates = (
        spec.model._default_manager.filter(**{f"{key}__startswith": numbering.prefix})
        .order_by(f"-{key}")
        .values_list(key, flat=True)
    )
    highest = 0
    for number in candidates.iterator(chunk_size=2000):
        serial = recordno.serial_of(str(number), numbering.prefix, numbering.serial_digits)
        if serial is not None:
            highest = max(highest, serial)
            if len(str(number)) == numbering.length:
                break  # same length, descending: the first valid one is the highest
    return highest


def assign_numbers(spec: EntitySpec, count: int, *, skip: Collection[str] = ()) -> list[str]:
    """COUNT consecutive free numbers at once (imports), under the same lock as `assign_number`; never one
    in SKIP (the numbers an import's file brings for rows not stored yet)."""
    numbering = spec.declaration.numbering
    assert numbering is not None
    sequence = NumberSequence.objects.select_for_update().filter(entity=spec.name).first()
    if sequence is None:
        NumberSequence.objects.get_or_create(entity=spec.name, defaults={"last": _highest(spec)})
        sequence = NumberSequence.objects.select_for_update().get(entity=spec.name)
    key = spec.label_field
    out: list[str] = []
    serial = sequence.last
    while len(out) < count:
        wanted = count - len(out)
        candidates = [
            recordno.compose(numbering.prefix, serial + i, numbering.serial_digits)
            for i in range(1, wanted + 1)
        ]
        serial += wanted
        # The candidates are consecutive serials of one prefix and length, so they sort as they count: one
        # range of the unique index finds those already taken (an IN list of an import chunk's 2,000
        # numbers cost Django more to prepare than the look-up itself, bench/imports.py).
        taken = set(
            spec.model._default_manager.filter(
                **{f"{key}__gte": candidates[0], f"{key}__lte": candidates[-1]}
            ).values_list(key, flat=True)
        )
        out += [number for number in candidates if number not in taken and number not in skip]
    NumberSequence.objects.filter(pk=spec.name).update(last=serial)
    return out
