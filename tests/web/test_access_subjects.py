"""Lists of records about persons on those persons' access records (B1, attack round 17): a page or an export
of employments, enrolments, base declarations, deaths or entitlements names each row's person
(``Declaration.subject``), under ``subjects`` in its audit event, and the subject index holds one row per person
so named. Verification holds those rows to the chain both ways, in the full run and the nightly one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import translation

from sidms.audit import subjects
from sidms.audit.models import AuditEvent, AuditSubject
from sidms.core.declare import Declaration
from sidms.core.kernel import ENTITIES, EntitySpec, spec_for
from sidms.web.governance.audit_words import action_label
from tests.business.conftest import insured
from tests.web.test_access_lists import _raw, _unguarded, access_of

pytestmark = [pytest.mark.django_db, pytest.mark.req("B1")]

__all__ = ["insured"]


@pytest.fixture
def window(make_staff: Any) -> Any:
    """The clerk at the window who shows a person their access record."""
    return make_staff("clerk_hc2", posts=("window_clerk",), district="371002", full_name="李四")


def test_every_entity_whose_records_are_a_persons_declares_the_person_as_their_subject() -> None:
    """The rule is data: an entity scoped by its person's district (its records are each one person's) names
    that person as its subject, and only the person has an access record."""
    about_persons = {
        name for name, spec in ENTITIES.items() if spec.declaration.district == "person__district"
    }
    assert about_persons >= {"employment", "person_enrolment", "base_declaration", "death", "entitlement"}
    for name, spec in ENTITIES.items():
        if name in about_persons:
            assert spec.subject is not None and spec.subject[0] == "person", name
            assert spec.subject[1] is spec_for("person")
        else:
            assert spec.subject is None, name


def test_a_subject_that_is_no_record_with_an_access_record_fails_at_start_up() -> None:
    unit = spec_for("unit")
    wrong = EntitySpec(
        spec_for("employment").model, Declaration(**{**_fields(spec_for("employment")), "subject": "unit"})
    )
    assert not unit.declaration.access_record
    with pytest.raises(ImproperlyConfigured, match="access record"):
        wrong.subject  # noqa: B018


def _fields(spec: EntitySpec) -> dict[str, Any]:
    declaration = spec.declaration
    return {name: getattr(declaration, name) for name in declaration.__dataclass_fields__}


def test_the_index_reads_subjects_of_indexed_entities_only() -> None:
    detail = {"shown": ["7", "8"], subjects.SUBJECTS: {"person": ["3700000001", "3700000001", 42, True, ""],
                                                        "unit": ["U1"], "": ["x"]}}  # fmt: skip
    assert subjects.named("employment", detail) == [("person", "3700000001"), ("person", "42")]
    assert subjects.named("employment", {subjects.SUBJECTS: ["person", "3700000001"]}) == []
    assert {"shown", "queue_records", subjects.SUBJECTS} == subjects.KEYS


def test_a_list_page_of_employments_is_on_the_access_record_of_each_person_it_names(
    insured: dict[str, Any], huancui_clerk: Any, window: Any, signed_in: Any
) -> None:
    employee, flexible = insured["employee"], insured["flexible"]
    assert signed_in(huancui_clerk).get("/employments/").status_code == 200
    event = AuditEvent.objects.get(action="read.employment_list", actor="clerk_hc")
    detail = json.loads(event.payload)["detail"]
    assert detail[subjects.SUBJECTS] == {"person": [employee.person_no]}  # 赵自由 has no employment
    assert set(AuditSubject.objects.filter(seq=event.seq).values_list("entity", "record_key")) == {
        ("person", employee.person_no)
    }
    at_window = signed_in(window)
    with translation.override("zh-hans"):
        label = str(action_label("read.employment_list"))
        rows, _html = access_of(at_window, employee)
        assert [row[2] for row in rows if row[3] == label] == ["clerk_hc"]
        rows, _html = access_of(at_window, flexible)
        assert not [row for row in rows if row[3] == label]


def test_a_page_of_a_persons_enrolments_names_the_person_once(
    insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """Four enrolments of 王建国 and one of 赵自由: each person once in the event, one index row each."""
    assert signed_in(huancui_clerk).get("/person-enrolments/").status_code == 200
    event = AuditEvent.objects.get(action="read.person_enrolment_list", actor="clerk_hc")
    detail = json.loads(event.payload)["detail"]
    assert len(detail["shown"]) == 5
    assert sorted(detail[subjects.SUBJECTS]["person"]) == sorted(
        [insured["employee"].person_no, insured["flexible"].person_no]
    )
    assert AuditSubject.objects.filter(seq=event.seq).count() == 2


# --- held to the chain ------------------------------------------------------------------------------------


def listed_after_a_point(client: Any, slug: str, entity: str, capsys: Any) -> AuditEvent:
    """A verification that finds the store intact (the nightly run's point), then a list page of SLUG: the
    nightly run reads the list's event, and the full run everything."""
    call_command("audit_verify")
    capsys.readouterr()
    assert client.get(f"/{slug}/").status_code == 200
    return AuditEvent.objects.get(action=f"read.{entity}_list")


def named_by(run: str, capsys: Any) -> str:
    """What the full verification (RUN "full") or the nightly one (`--since-checkpoint`) names: it must fail."""
    args = ("--since-checkpoint", "--sample", "0") if run == "since_checkpoint" else ()
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify", *args)
    assert exit_.value.code == 1
    return str(capsys.readouterr().err)


@pytest.mark.req("R20")
@pytest.mark.parametrize("run", ["full", "since_checkpoint"])
def test_a_persons_row_of_a_list_of_their_records_deleted_is_named_by_verify(
    run: str, insured: dict[str, Any], huancui_clerk: Any, window: Any, signed_in: Any, capsys: Any
) -> None:
    event = listed_after_a_point(signed_in(huancui_clerk), "employments", "employment", capsys)
    wang = insured["employee"]
    _unguarded("audit_auditsubject")
    _raw("DELETE FROM audit_auditsubject WHERE seq = %s AND record_key = %s", [event.seq, wang.person_no])
    with translation.override("zh-hans"):
        rows, _html = access_of(signed_in(window), wang)
        assert not [row for row in rows if row[3] == str(action_label("read.employment_list"))]  # hidden …
    err = named_by(run, capsys)  # … until verification
    assert f"#{event.seq}" in err and wang.person_no in err and "deleted" in err


@pytest.mark.req("R20")
@pytest.mark.parametrize("run", ["full", "since_checkpoint"])
def test_a_person_added_to_a_list_of_others_records_is_named_by_verify(
    run: str, insured: dict[str, Any], huancui_clerk: Any, signed_in: Any, capsys: Any
) -> None:
    """A row saying the employments page named 赵自由, who has no employment: an access that never was."""
    event = listed_after_a_point(signed_in(huancui_clerk), "employments", "employment", capsys)
    zhao = insured["flexible"].person_no
    _raw("INSERT INTO audit_auditsubject (entity, record_key, seq) VALUES (%s, %s, %s)",
         ["person", zhao, event.seq])  # fmt: skip
    err = named_by(run, capsys)
    assert f"#{event.seq}" in err and zhao in err and "inserted" in err
