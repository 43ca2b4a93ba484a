"""Attack round 17 on the audit subject index (B1, ``audit.AuditSubject``): a row redirected in SQL from the person
a list showed to another (the append-only guard dropped and put back) hides the access from the first person
and shows the second one an access that never was. Refused as it should be: `sidms audit verify` names the
event and the person whose row went missing (kept as a passing test beside the round's findings)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from tests.web.conftest import make_person
from tests.web.test_access_lists import _broken, _raw, _unguarded, access_of, listed, persons, window

pytestmark = [pytest.mark.django_db, pytest.mark.req("B1"), pytest.mark.req("R20")]

__all__ = ["listed", "make_person", "persons", "window"]  # the fixtures of the access lists' tests


def test_a_subject_row_redirected_to_another_person_is_named_by_verify(
    listed: AuditEvent, persons: dict[str, Any], window: Any, signed_in: Any, capsys: Any
) -> None:
    wang, rushan = persons["wang"].person_no, persons["rushan"].person_no
    _unguarded("audit_auditsubject")
    _raw("UPDATE audit_auditsubject SET record_key = %s WHERE seq = %s AND record_key = %s",
         [rushan, listed.seq, wang])  # fmt: skip
    rows, _html = access_of(signed_in(window), persons["wang"])
    assert not [row for row in rows if row[3] == "查询参保人员"]  # hidden from 王建国 until verification
    problem, err = _broken(capsys)
    assert problem.kind == "audit_subject" and f"#{listed.seq}" in problem.where and wang in problem.where
    assert wang in err
