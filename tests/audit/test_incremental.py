"""`sidms audit verify --since-checkpoint` (issue 7): the nightly run checks what was appended since the last
verification that found nothing, plus a random sample of live rows — and still catches the attacks that
matter for what it reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from sidms.audit.checkpoints import read_verified, verified_file
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.changes.verify import verify_since_checkpoint
from sidms.core.errors import NotPermitted
from sidms.registry.models import Person
from tests.audit.test_tampering import _put_back, _raw, _snapshot, _unguarded
from tests.changes.conftest import WANG_NEW_ID, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20")]


@pytest.fixture
def people(make_person) -> list[Any]:  # type: ignore[no-untyped-def]
    return [
        make_person(
            id_number=id_number(f"371002{1960 + 10 * i}01010{i}{1 if i % 2 == 0 else 2}"),
            name="测试" + "甲乙丙丁"[i],
            sex="1" if i % 2 == 0 else "2",
            birth_date=f"19{6 + i}0-01-01",
        )
        for i in range(4)
    ]


def verified(capsys: Any, *args: str) -> str:
    call_command("audit_verify", *args)
    return str(capsys.readouterr().out)


def nightly(capsys: Any, sample: int = 0) -> tuple[int, str]:
    try:
        call_command("audit_verify", "--since-checkpoint", "--sample", str(sample))
    except SystemExit as exit_:
        return int(exit_.code or 0), str(capsys.readouterr().err)
    return 0, str(capsys.readouterr().out)


def edit(clerk: Any, person: Any, **values: str) -> None:
    submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", record=person, values=values)


def test_without_a_verified_point_the_nightly_run_verifies_everything(people, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = nightly(capsys)
    assert code == 0 and "完整验证" in out and f"person {len(people)}" in out
    point = read_verified()
    assert point is not None and point.seq > 0 and point.rows["person"] == max(p.pk for p in people)


def test_the_nightly_run_reads_only_what_changed_and_moves_the_point_on(
    people, huancui_clerk, capsys
) -> None:  # type: ignore[no-untyped-def]
    verified(capsys)
    before = read_verified()
    edit(huancui_clerk, people[1], address="威海市环翠区新威路9号")

    code, out = nightly(capsys)

    assert code == 0, out
    assert f"since audit event #{before.seq}" in out and "person 1," in out  # only the edited person
    after = read_verified()
    assert after.seq > before.seq and after.incremental
    code, out = nightly(capsys)  # nothing new: no person to read (staff accounts are always read in full)
    assert code == 0 and "0 new events" in out and "person" not in out


def test_a_person_tampered_after_an_edit_since_the_point_is_named(people, huancui_clerk, capsys) -> None:  # type: ignore[no-untyped-def]
    verified(capsys)
    edit(huancui_clerk, people[2], address="威海市环翠区新威路9号")
    _raw("UPDATE registry_person SET name = %s WHERE id = %s", ["李鬼", people[2].pk])

    code, err = nightly(capsys)

    assert code == 1 and f"person #{people[2].pk}" in err


def test_an_old_tampering_is_found_by_the_sample_or_the_full_run(people, capsys) -> None:  # type: ignore[no-untyped-def]
    verified(capsys)
    _raw("UPDATE registry_person SET name = %s WHERE id = %s", ["李鬼", people[0].pk])
    # Nothing new touched the row: without a sample the nightly run does not read it (its documented limit) …
    first = nightly(capsys, sample=0)
    assert first[0] == 0, first
    # … a sample that draws it does, and the full run always does.
    code, err = nightly(capsys, sample=len(people) + 10)
    assert code == 1 and f"person #{people[0].pk}" in err
    with pytest.raises(SystemExit):
        call_command("audit_verify")


def test_a_row_inserted_behind_the_systems_back_since_the_point_is_named(people, capsys) -> None:  # type: ignore[no-untyped-def]
    verified(capsys)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registry_person WHERE id = %s", [people[0].pk])
        columns = [c[0] for c in cursor.description]
        row = dict(zip(columns, cursor.fetchone(), strict=True))
    row.update(
        id=people[-1].pk + 100,
        person_no="R99999999999",
        uid=row["uid"][::-1] if isinstance(row["uid"], str) else row["uid"],
    )
    if not isinstance(row["uid"], str):
        import uuid

        row["uid"] = uuid.uuid4()
    names = ", ".join(row)
    _raw(f"INSERT INTO registry_person ({names}) VALUES ({', '.join(['%s'] * len(row))})", list(row.values()))  # noqa: S608

    code, err = nightly(capsys)

    assert code == 1 and f"person #{people[-1].pk + 100}" in err and "没有修订历史" in err


def test_a_rewritten_event_at_the_verified_point_is_named(people, huancui_clerk, capsys) -> None:  # type: ignore[no-untyped-def]
    verified(capsys)
    point = read_verified()
    edit(huancui_clerk, people[1], address="威海市环翠区新威路9号")
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("UPDATE audit_auditevent SET hash = %s WHERE seq = %s", ["0" * 64, point.seq])
        restore()

    code, err = nightly(capsys)

    assert code == 1 and f"#{point.seq}" in err


def test_a_cut_tail_is_caught(people, huancui_clerk, capsys, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    verified(capsys)
    with django_capture_on_commit_callbacks(execute=True):
        edit(huancui_clerk, people[1], address="威海市环翠区新威路9号")
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("DELETE FROM audit_auditevent WHERE seq = (SELECT MAX(seq) FROM audit_auditevent)")
        restore()

    code, err = nightly(capsys)

    assert code == 1 and ("末尾" in err or "tail" in err)


def test_an_altered_verified_point_is_refused(people, capsys) -> None:  # type: ignore[no-untyped-def]
    verified(capsys)
    path = verified_file()
    data = json.loads(path.read_text())
    data["revision"] += 1000  # "everything up to here was verified": a forward move hides what it skips
    path.write_text(json.dumps(data))

    code, err = nightly(capsys)

    assert code == 1 and "被篡改" in err
    assert not verify_since_checkpoint().ok


def test_a_request_rejected_before_the_point_and_put_back_after_it_is_named(
    people, huancui_clerk, make_staff, capsys
) -> None:  # type: ignore[no-untyped-def]
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=people[0],
        values={"id_number": WANG_NEW_ID},
    ).held  # fmt: skip
    saved = _snapshot("changes_changerequest", held.pk)
    review_decide(actor=reviewer, change_request_id=held.pk, approve=False, reason="证件不符")
    verified(capsys)  # the rejection is verified history now
    _put_back("changes_changerequest", saved)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING

    code, err = nightly(capsys)

    assert code == 1 and f"CR{held.pk}" in err
    assert Person.objects.get(pk=people[0].pk).id_number != WANG_NEW_ID


def test_a_refused_attempt_on_an_open_request_is_no_false_alarm(people, huancui_clerk, capsys) -> None:  # type: ignore[no-untyped-def]
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=people[0],
        values={"id_number": WANG_NEW_ID},
    ).held  # fmt: skip

    def refused_attempt() -> None:  # the submitter tries to decide their own request: refused, and recorded
        with pytest.raises(NotPermitted):
            review_decide(actor=huancui_clerk, change_request_id=held.pk, approve=True)

    refused_attempt()
    verified(capsys)
    assert nightly(capsys)[0] == 0  # the latest event about the request records no step: the one before does
    refused_attempt()
    code, out = nightly(capsys)
    assert code == 0, out
