"""The record pages are one implementation over every declared entity (issue 6): agencies and service
institutions have their pages without any code of their own, an employment is entered from its person's page
within the clerk's data scope, and lists and records read as notes/ux-conventions.md asks — totals, filters on
declared fields, sorting, search by record number as well as name, paging, breadcrumbs and links between
related records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sidms
from sidms.audit.models import AuditEvent
from sidms.lib.idcard import check_digit
from sidms.registry.models import Agency, Employment, ServiceInstitution

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"


def text_of(html: str) -> str:
    """What a reader sees: the page without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def crumbs(html: str) -> str:
    match = re.search(r'<nav class="crumbs"[^>]*>(.*?)</nav>', html, re.S)
    assert match, html[:2000]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def table_rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture
def city_clerk(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("clerk_city", posts=("window_clerk",), district="371000")


@pytest.fixture
def agencies(load):  # type: ignore[no-untyped-def]
    return load(
        "agency",
        [
            {"code": "SB371000", "name": "威海市社会保险事业中心", "level": "city", "district_id": "371002"},
            {
                "code": "SB371083",
                "name": "乳山市社会保险事业中心",
                "level": "district",
                "district_id": "371083",
            },
        ],
    )


@pytest.fixture
def institutions(load):  # type: ignore[no-untyped-def]
    return load(
        "service_institution",
        [
            {"code": "RS371002001", "name": "环翠区竹岛街道人力资源和社会保障服务站", "kind": "hrss_station",
             "district_id": "371002", "address": "环翠区竹岛路 1 号", "phone": "0631-5221234", "status": "active"},
            {"code": "P37108300001", "name": "乳山市康民大药房", "kind": "pharmacy", "district_id": "371083",
             "phone": "0631-6651234", "status": "active"},
        ],
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Agencies and service institutions: pages from the declaration alone


@pytest.mark.req("R2.1")
@pytest.mark.req("R10.3")
def test_agencies_have_list_detail_edit_and_history_pages(
    city_clerk, rushan_clerk, signed_in, agencies
) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(city_clerk)
    listing = client.get("/agencies/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "经办机构" in page and "威海市社会保险事业中心" in page and "乳山市社会保险事业中心" in page
    assert "共 2 条" in page and 'href="/agencies/SB371000/"' in page

    detail = client.get("/agencies/SB371000/").content.decode()
    assert crumbs(detail) == "首页 › 经办机构 › 威海市社会保险事业中心（SB371000）"
    assert "市级" in detail and "环翠区" in detail  # the level and the district in words, not codes

    form = client.get("/agencies/SB371000/edit/").content.decode()
    assert 'name="name"' in form and 'name="code"' not in form  # the key is fixed once the record exists
    agency = Agency.objects.get(code="SB371000")
    saved = client.post(
        "/agencies/SB371000/edit/",
        {
            "version": agency.version,
            "name": "威海市社会保险服务中心",
            "level": "city",
            "district_id": "371002",
        },
        follow=True,
    )
    assert saved.redirect_chain[-1][0] == "/agencies/SB371000/"
    agency.refresh_from_db()
    assert agency.name == "威海市社会保险服务中心" and agency.version == 2

    history = client.get("/agencies/SB371000/history/").content.decode()
    assert "威海市社会保险事业中心 → <b>威海市社会保险服务中心</b>" in history

    rushan = signed_in(rushan_clerk)
    assert rushan.get("/agencies/SB371000/").status_code == 404  # another district's agency
    assert "威海市社会保险服务中心" not in rushan.get("/agencies/").content.decode()
    assert AuditEvent.objects.filter(action="read.agency", actor="clerk_city").exists()


@pytest.mark.req("R2.1")
@pytest.mark.req("R10.3")
def test_service_institutions_have_list_detail_edit_and_history_pages(  # type: ignore[no-untyped-def]
    huancui_clerk, rushan_clerk, signed_in, institutions
) -> None:
    client = signed_in(huancui_clerk)
    page = client.get("/institutions/").content.decode()
    assert "服务机构" in page and "竹岛街道" in page and "康民大药房" not in page  # the clerk's district only
    assert "人力资源和社会保障所（站）" in page  # the kind from its code table

    detail = client.get("/institutions/RS371002001/").content.decode()
    assert crumbs(detail) == "首页 › 服务机构 › 环翠区竹岛街道人力资源和社会保障服务站（RS371002001）"
    assert "0631-5221234" in detail

    institution = ServiceInstitution.objects.get(code="RS371002001")
    assert client.get("/institutions/RS371002001/edit/").status_code == 200
    client.post(
        "/institutions/RS371002001/edit/",
        {"version": institution.version, "name": institution.name, "kind": "hrss_station",
         "district_id": "371002", "address": "环翠区竹岛路 9 号", "phone": "0631-5221234", "status": "active"},
    )  # fmt: skip
    institution.refresh_from_db()
    assert institution.address == "环翠区竹岛路 9 号"
    history = client.get("/institutions/RS371002001/history/").content.decode()
    assert "环翠区竹岛路 1 号 → <b>环翠区竹岛路 9 号</b>" in history

    assert signed_in(rushan_clerk).get("/institutions/RS371002001/").status_code == 404


@pytest.mark.req("R2.1")
def test_no_code_in_the_kernel_packages_names_agencies_or_service_institutions() -> None:
    """Adding an entity touches its own app and page module only: the change pipeline, the read door and
    the audit chain serve agencies and service institutions from their declarations."""
    root = Path(sidms.__file__).parent
    found = []
    for package in ("changes", "access", "audit"):
        for path in sorted((root / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                for word in ("agency", "Agency", "service_institution", "ServiceInstitution"):
                    if word in line:
                        found.append(f"{path.relative_to(root)}:{number}: {word}")
    assert found == []


# --------------------------------------------------------------------------------------------------------
# Employments: entered from the person's page, within the data scope


@pytest.mark.req("R6.1")
@pytest.mark.req("R10.3")
def test_a_huancui_clerk_adds_an_employment_from_the_persons_page(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person, make_unit
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    unit = make_unit(name="荣成市海洋水产有限公司", district="371082")  # a unit in another district
    client = signed_in(huancui_clerk)
    add = f"/employments/new/?person={person.person_no}"
    assert f'href="{add}"' in client.get(f"/persons/{person.person_no}/").content.decode()
    form = client.get(add).content.decode()
    assert f"王建国（{person.person_no}）" in form and 'name="unit_id"' in form and 'type="date"' in form
    response = client.post(add, {"unit_id": unit.unit_no, "start_date": "2024-03-01"}, follow=True)
    employment = Employment.objects.get()
    assert (employment.person_id, employment.unit_id) == (person.pk, unit.pk)
    assert employment.start_date.isoformat() == "2024-03-01"
    assert response.redirect_chain[-1][0] == f"/employments/{employment.pk}/"
    assert f"已保存：就业记录 {employment.pk} · 王建国（{person.person_no}）" in response.content.decode()


@pytest.mark.req("R10.3")
def test_a_rushan_clerk_cannot_add_an_employment_for_a_huancui_person(  # type: ignore[no-untyped-def]
    rushan_clerk, signed_in, make_person, make_unit
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    unit = make_unit(name="乳山市银滩旅游有限公司", district="371083")
    client = signed_in(rushan_clerk)
    assert client.get(f"/persons/{person.person_no}/").status_code == 404
    assert client.get(f"/employments/new/?person={person.person_no}").status_code == 404
    refused = client.post(
        "/employments/new/",
        {"person_id": person.person_no, "unit_id": unit.unit_no, "start_date": "2024-03-01"},
    )
    assert refused.status_code == 400
    assert f"您的数据范围内没有编号为 {person.person_no} 的参保人员" in refused.content.decode()
    assert "王建国" not in refused.content.decode()
    assert not Employment.objects.exists()


@pytest.mark.req("R2.1")
def test_employment_unit_and_person_link_to_each_other(
    huancui_clerk, signed_in, make_person, make_unit, load
) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    unit = make_unit(name="威海海之韵科技有限公司", district="371002")
    employment = load(
        "employment", [{"person_id": person.pk, "unit_id": unit.pk, "start_date": "2020-05-01"}]
    )[0]
    client = signed_in(huancui_clerk)
    person_url, unit_url = f"/persons/{person.person_no}/", f"/units/{unit.unit_no}/"
    employment_url = f"/employments/{employment.pk}/"

    person_page = client.get(person_url).content.decode()
    assert f'href="{unit_url}"' in person_page and f'href="{employment_url}"' in person_page
    unit_page = client.get(unit_url).content.decode()
    assert f'href="{person_url}"' in unit_page and "王建国" in unit_page
    employment_page = client.get(employment_url).content.decode()
    assert f'href="{person_url}"' in employment_page and f'href="{unit_url}"' in employment_page
    assert crumbs(employment_page).startswith("首页 › 就业记录 › ")


# --------------------------------------------------------------------------------------------------------
# Lists and records as clerks read them


DIGITS = "零一二三四五六七八九"


@pytest.fixture
def sixty(load):  # type: ignore[no-untyped-def]
    """Sixty persons of Huancui: forty employees and twenty retirees, named 测试甲零零 … 测试乙五九."""
    rows = []
    for i in range(60):
        body = f"37100219700102{i:03d}"
        rows.append(
            {"id_number": body + check_digit(body), "name": f"测试{'甲乙'[i % 2]}{DIGITS[i // 10]}{DIGITS[i % 10]}",
             "category": "retiree" if i % 3 == 0 else "employee", "district_id": "371002", "status": "active"}
        )  # fmt: skip
    return load("person", rows)


@pytest.mark.req("R10.3")
def test_a_list_says_how_many_match_and_pages_with_page_numbers(huancui_clerk, signed_in, sixty) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    first = client.get("/persons/").content.decode()
    assert "共 60 条" in first and len(table_rows(first)) == 50
    pager = first.split('<nav class="pager"', 1)[1]
    assert "下一页" in pager and "上一页" not in pager and '<b aria-current="page">1</b>' in pager
    assert 'href="?page=2"' in pager and "每页" in pager
    second = client.get("/persons/", {"page": "2"}).content.decode()
    assert len(table_rows(second)) == 10 and "上一页" in second and "下一页" not in second.split("pager")[-1]
    twenty = client.get("/persons/", {"per_page": "20", "page": "3"}).content.decode()
    assert len(table_rows(twenty)) == 20 and 'href="?per_page=20&amp;page=2"' in twenty


@pytest.mark.req("R10.3")
def test_a_list_filters_on_declared_fields_and_sorts_by_its_columns(huancui_clerk, signed_in, sixty) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    page = client.get("/persons/").content.decode()
    assert 'name="category"' in page and 'name="status"' in page and "重置" in page
    assert 'name="district_id"' not in page  # a district clerk's scope is one district already
    retirees = client.get("/persons/", {"category": "retiree"}).content.decode()
    assert "共 20 条" in retirees and all("离退休人员" in row for row in table_rows(retirees))
    assert 'href="?category=retiree&amp;sort=name"' in retirees  # sorting keeps the filter
    by_name = [
        row.split()[1] for row in table_rows(client.get("/persons/", {"sort": "-name"}).content.decode())
    ]
    assert by_name == sorted(by_name, reverse=True) and by_name[0] == max(p.name for p in sixty)


@pytest.mark.req("R10.3")
def test_a_search_takes_the_record_number_the_name_or_the_id_number_and_says_how_it_was_read(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, sixty
) -> None:
    client = signed_in(huancui_clerk)
    target = sixty[7]
    by_number = client.post("/persons/", {"q": f" {target.person_no} "}).content.decode()
    assert "按个人编号查询" in by_number and table_rows(by_number) == [table_rows(by_number)[0]]
    assert target.name in by_number and "共 1 条" in by_number
    by_name = client.post("/persons/", {"q": "测试乙"}).content.decode()
    assert "按姓名查询" in by_name and "共 30 条" in by_name
    by_id = client.post("/persons/", {"q": target.id_number.lower()}).content.decode()
    assert "按公民身份号码查询" in by_id and "共 1 条" in by_id and target.name in by_id
    nothing = client.post("/persons/", {"q": "不存在的人"}).content.decode()
    assert "共 0 条" in nothing and "无符合条件的记录" in nothing


@pytest.mark.req("R10.3")
def test_an_empty_list_says_so(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(huancui_clerk).get("/units/").content.decode()
    assert "共 0 条" in page and "您的数据范围内尚无记录" in page


@pytest.mark.req("R10.3")
def test_a_record_page_has_breadcrumbs_naming_the_record(huancui_clerk, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960, name="刘坤")
    client = signed_in(huancui_clerk)
    page = client.get(f"/persons/{person.person_no}/").content.decode()
    assert crumbs(page) == f"首页 › 参保人员 › 刘坤（{person.person_no}）"
    assert '<a href="/">首页</a>' in page and '<a href="/persons/">参保人员</a>' in page
    history = client.get(f"/persons/{person.person_no}/history/").content.decode()
    assert crumbs(history) == f"首页 › 参保人员 › 刘坤（{person.person_no}） › 变更历史"
    assert crumbs(client.get("/persons/").content.decode()) == "首页 › 参保人员"


@pytest.mark.req("R10.3")
def test_another_districts_unit_is_not_named_in_the_forms_and_empty_keeps_it(  # type: ignore[no-untyped-def]
    rushan_clerk, signed_in, make_person, make_unit, load
) -> None:
    # A 乳山市 person who works at a 环翠区 unit: the employment is the 乳山市 clerk's to keep, the unit is not
    # theirs to see.
    body = "37108319800101001"
    person = make_person(
        id_number=body + check_digit(body),
        name="孙海",
        district_id="371083",
        birth_date="1980-01-01",
        sex="1",
    )
    unit = make_unit(name="威海海之韵科技有限公司", district="371002")
    employment = load(
        "employment", [{"person_id": person.pk, "unit_id": unit.pk, "start_date": "2020-05-01"}]
    )[0]
    client = signed_in(rushan_clerk)
    for path in (f"/employments/{employment.pk}/edit/", f"/employments/{employment.pk}/maintain/"):
        page = client.get(path).content.decode()
        assert unit.unit_no not in page and "海之韵" not in page, path
        assert "不在您数据范围内的记录" in page
    form = client.get(f"/employments/{employment.pk}/edit/").context["form"]
    response = client.post(
        f"/employments/{employment.pk}/edit/",
        {**{k: v for k, v in form.initial.items() if v is not None}, "end_date": "2024-12-31"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    employment.refresh_from_db()
    assert employment.unit_id == unit.pk and str(employment.end_date) == "2024-12-31"
