"""System-assigned record numbers (个人编号, 单位编号): never typed, unique, with a check digit."""

from __future__ import annotations

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


def assign_numbers(spec: EntitySpec, count: int) -> list[str]:
    """COUNT consecutive free numbers at once (imports), under the same lock as `assign_number`."""
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
        taken = set(
            spec.model._default_manager.filter(**{f"{key}__in": candidates}).values_list(key, flat=True)
        )
        out += [number for number in candidates if number not in taken]
    NumberSequence.objects.filter(pk=spec.name).update(last=serial)
    return out
