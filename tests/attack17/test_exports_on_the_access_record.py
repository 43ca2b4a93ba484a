"""Attack round 17: exports of the lists that name persons — employments, enrolments, base declarations, deaths,
benefit entitlements — are not on the access record of the persons they hold (B1).

Each of these lists shows the person of a row by name and number (its first column, ``person_id``, through
``access.texts.reference``), and an export writes them into a file that leaves the system. The export's read of
each page is one audit event naming the rows by their own keys (employment ids); the subject index
(``audit.subjects.named``) indexes names of persons only, so no row of the index names the persons, and a
person's access record (``web.records.access``), which says it lists the "exports that showed the person among
others … and the purpose an export stated", lists nothing: a clerk can take 王建国's name, number and employer
home in a file, with a stated purpose, and his access record shows no export. The page's note "not listed:
lists of the person's employments, enrolments and other related records" reads as the related lists on the
person's own page; an export of every employment of a district is another matter.

Fixed: an entity whose records are each about a person declares it (``Declaration.subject``, the reference
"person"), and a list page or an export page of it names those persons in its event's detail
(``subjects``: {"person": [numbers]}), which the subject index reads as it reads a list of persons
(``audit.subjects.named``); verification holds the new rows to the chain as the others. An ID number in a stated
purpose is masked before it is stored and printed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import translation

from sidms.audit.models import AuditEvent, AuditSubject
from sidms.exchange import exports
from tests.web.test_access_record import rows_of

pytestmark = [pytest.mark.django_db, pytest.mark.req("B1"), pytest.mark.req("R10.3")]


@pytest.fixture
def window(make_staff: Any) -> Any:
    """The clerk at the window who shows a person their access record."""
    return make_staff("clerk_hc2", posts=("window_clerk",), district="371002", full_name="李四")


@pytest.mark.parametrize("entity", ["employment", "person_enrolment", "base_declaration"])
def test_an_export_of_a_list_that_names_the_person_is_on_their_access_record(
    entity: str, insured: dict[str, Any], huancui_clerk: Any, window: Any, signed_in: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 100)
    employee = insured["employee"]
    done = exports.request_export(actor=huancui_clerk, entity=entity, purpose="带回家核对", fmt="csv")
    assert done.data is not None
    text = done.data.decode("utf-8-sig")
    assert employee.name in text and employee.person_no in text  # the file names him
    read = AuditEvent.objects.get(action=f"read.{entity}_export")
    assert json.loads(read.payload)["detail"]["export"] == f"EX{done.request.pk}"

    with translation.override("zh-hans"):
        page = signed_in(window).get(f"/persons/{employee.person_no}/access/")
    assert page.status_code == 200
    exported = [row for row in rows_of(page.content.decode()) if "带回家核对" in row]
    assert len(exported) == 1
    assert AuditSubject.objects.filter(seq=read.seq, entity="person", record_key=employee.person_no).exists()


@pytest.mark.req("R10")
def test_an_id_number_in_an_exports_purpose_is_not_printed_whole_in_the_file(
    insured: dict[str, Any], huancui_clerk: Any, window: Any, signed_in: Any, set_parameter: Any
) -> None:
    """A purpose naming the person the export was about (the flexible worker, by ID number): the audit events
    and the access record of every other person in the file show it masked, but the file's watermark prints it
    whole above the column that masks it."""
    from sidms.registry.models import Person

    set_parameter("export.approval_rows", 100)
    about = Person.objects.get(pk=insured["flexible"].pk).id_number
    done = exports.request_export(
        actor=huancui_clerk, entity="person", purpose=f"核查{about}的家庭成员", fmt="csv"
    )
    assert done.data is not None
    text = done.data.decode("utf-8-sig")
    assert f"{about[:6]}********{about[-4:]}" in text  # the file's own column masks it
    with translation.override("zh-hans"):
        page = signed_in(window).get(f"/persons/{insured['employee'].person_no}/access/").content.decode()
    assert [row for row in rows_of(page) if row[3].startswith("导出参保人员")]  # the export is listed
    assert about not in page  # 王建国's access record shows it masked
    assert not AuditEvent.objects.filter(payload__contains=about).exists()  # the audit layer masks it
    assert about not in text  # the watermark prints it whole above the masked column
