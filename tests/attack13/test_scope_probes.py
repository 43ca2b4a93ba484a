"""Attack round 13 on the queues that follow their record (R10.3): the ways a district could still count, list
or reach a request about a person who left it, or a request it never held, that the round's change did not
test itself. None of these leaked; they stay as tests so that none starts to."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db.models import Count, Exists, OuterRef

from sidms.access import workflow as workflows
from sidms.archives.models import ArchiveItem
from sidms.archives.services import archive_upload, review_queue, visible_items
from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import review_recheck_registries, submit_change
from sidms.core.errors import NotPermitted
from sidms.lib.idcard import check_digit
from sidms.registry.models import Person
from tests.archives.conftest import noise

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.3")]

RUSHAN = "371083"
IDS = tuple(body + check_digit(body) for body in ("37100219600101001", "37100219600101003"))


def held_change(clerk: Any, person: Any) -> ChangeRequest:
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": person.name + "华"}).held  # fmt: skip
    assert held is not None
    return held


@pytest.fixture
def moved(data_dir: Any, huancui_clerk: Any, make_staff: Any, make_person: Any) -> dict[str, Any]:
    """Two 环翠区 persons with a held change each, an ID copy attached to each change; then one person moves
    to 乳山市 through the pipeline."""
    stays, leaves = (
        make_person(id_number=n, name=name) for n, name in zip(IDS, ("王甲", "王乙"), strict=True)
    )
    kept, gone = held_change(huancui_clerk, stays), held_change(huancui_clerk, leaves)
    items = {
        key: archive_upload(
            actor=huancui_clerk,
            target_kind="change_request",
            target=held,
            doc_type="id_copy",
            data=noise("PNG"),
        )
        for key, held in (("kept", kept), ("gone", gone))
    }
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    submit_change(actor=city_clerk, channel=Channel.WINDOW, entity="person",
                  record=Person.objects.get(pk=leaves.pk), values={"district_id": RUSHAN})  # fmt: skip
    return {
        "stays": stays, "leaves": Person.objects.get(pk=leaves.pk), "kept": kept, "gone": gone, "items": items,
        "huancui": make_staff("reviewer_hc", posts=("reviewer", "archive_reviewer"), district="371002"),
        "rushan": make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN),
    }  # fmt: skip


def todo_count(page: str) -> int:
    counts = re.findall(
        r'href="/queues/todo/change_request\.review/">[^<]*</a> <span class="count[^"]*">(\d+)<', page
    )
    assert len(counts) == 1
    return int(counts[0])


def test_the_dashboard_counts_and_the_record_page_list_follow_the_record(
    moved: dict[str, Any], signed_in: Any
) -> None:
    huancui, rushan = signed_in(moved["huancui"]), signed_in(moved["rushan"])
    assert todo_count(huancui.get("/").content.decode()) == 1
    assert todo_count(rushan.get("/").content.decode()) == 1
    leaves = rushan.get(f"/persons/{moved['leaves'].person_no}/").content.decode()
    assert f"CR{moved['gone'].pk}<" in leaves
    assert huancui.get(f"/persons/{moved['leaves'].person_no}/").status_code == 404
    stays = huancui.get(f"/persons/{moved['stays'].person_no}/").content.decode()
    assert f"CR{moved['kept'].pk}<" in stays and f"CR{moved['gone'].pk}<" not in stays


def test_the_scope_holds_inside_other_queries(moved: dict[str, Any]) -> None:
    """ScopeDistrict writes its SQL by hand and names the row's table by the alias of the query it is compiled
    in: the same rows by count, existence, as a subquery, in a union, grouped and correlated."""
    rows = workflows.visible(moved["huancui"], ChangeRequest)
    kept = moved["kept"].pk
    assert list(rows.values_list("pk", flat=True)) == [kept] and rows.count() == 1
    assert rows.filter(pk=moved["gone"].pk).exists() is False
    assert list(ChangeRequest.objects.filter(pk__in=rows).values_list("pk", flat=True)) == [kept]
    assert list(ChangeRequest.objects.filter(pk__in=rows.values("pk")).values_list("pk", flat=True)) == [kept]
    union = (
        rows.order_by()
        .values_list("pk", flat=True)
        .union(ChangeRequest.objects.order_by().filter(pk=-1).values_list("pk", flat=True))
    )
    assert list(union) == [kept]
    assert list(rows.values("district_id").annotate(n=Count("pk")).values_list("n", flat=True)) == [1]
    correlated = ChangeRequest.objects.annotate(
        seen=Exists(workflows.visible(moved["huancui"], ChangeRequest).filter(pk=OuterRef("pk")))
    )
    assert dict(correlated.values_list("pk", "seen")) == {kept: True, moved["gone"].pk: False}
    assert rows.select_related("district", "submitted_by").count() == 1


def test_the_scans_of_a_request_follow_it_through_the_archive_review_queue(
    moved: dict[str, Any], make_staff: Any
) -> None:
    items = moved["items"]
    assert [i.pk for i in review_queue(actor=moved["huancui"])] == [items["kept"].pk]
    assert list(visible_items(moved["huancui"]).values_list("pk", flat=True)) == [items["kept"].pk]
    assert visible_items(moved["huancui"]).filter(pk=items["gone"].pk).count() == 0
    rushan_archivist = make_staff("archivist_rs", posts=("archive_reviewer",), district=RUSHAN)
    assert [i.pk for i in review_queue(actor=rushan_archivist)] == [items["gone"].pk]
    rushan_requests = workflows.visible(moved["rushan"], ChangeRequest)
    assert list(
        ArchiveItem.objects.filter(change_request__in=rushan_requests).values_list("pk", flat=True)
    ) == [items["gone"].pk]


@pytest.mark.req("R7.3")
def test_a_submitter_who_reviews_too_follows_their_request_but_asks_no_registry_about_it(
    moved: dict[str, Any], make_staff: Any, public_security: Any
) -> None:
    """The submitter still sees their own request once its person has left (我提交的); holding the
    reviewer's post too, they may still not ask the registries again about a person now of another district."""
    both = make_staff("clerk_reviewer_hc", posts=("window_clerk", "reviewer"), district="371002")
    # Of the ID number: the name already waits for review in the fixture's request (one request a field).
    mine = submit_change(actor=both, channel=Channel.WINDOW, entity="person",
                         record=Person.objects.get(pk=moved["stays"].pk),
                         values={"id_number": "37100219600101005" + check_digit("37100219600101005")}).held  # fmt: skip
    assert mine is not None
    city_clerk = make_staff("clerk_city2", posts=("window_clerk",), district="371000")
    submit_change(actor=city_clerk, channel=Channel.WINDOW, entity="person",
                  record=Person.objects.get(pk=moved["stays"].pk), values={"district_id": RUSHAN})  # fmt: skip
    assert workflows.visible(both, ChangeRequest).filter(pk=mine.pk).exists()
    with pytest.raises(NotPermitted):
        review_recheck_registries(actor=both, change_request_id=mine.pk)
