from __future__ import annotations

import pytest

from sidms.lib.uscc import check_char, org_check_char

pytestmark = [pytest.mark.django_db]

_ORG = "MA3C0000"
HUANCUI_CODE = f"91371002{_ORG}{org_check_char(_ORG)}"
HUANCUI_CODE += check_char(HUANCUI_CODE)


@pytest.mark.req("R10.3")
def test_units_are_listed_and_searched_within_the_district(huancui_clerk, signed_in, make_unit) -> None:  # type: ignore[no-untyped-def]
    ours = make_unit(name="威海海之韵科技有限公司", district="371002", credit_code=HUANCUI_CODE)
    theirs = make_unit(name="荣成市海洋水产有限公司", district="371082")
    client = signed_in(huancui_clerk)
    listing = client.get("/units/").content.decode()
    assert "海之韵" in listing and "荣成市海洋水产" not in listing
    assert "荣成市海洋水产" not in client.get("/units/", {"q": "91371082775260043P"}).content.decode()
    assert client.get(f"/units/{theirs.unit_no}/").status_code == 404
    assert "0631-5221234" in client.get(f"/units/{ours.unit_no}/").content.decode()


@pytest.mark.req("R10.3")
def test_a_unit_is_found_by_its_credit_code(make_staff, signed_in, make_unit) -> None:  # type: ignore[no-untyped-def]
    city = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    make_unit(name="荣成市海洋水产有限公司", district="371082")
    page = signed_in(city).get("/units/", {"q": "91371082775260043p"}).content.decode()
    assert "荣成市海洋水产有限公司" in page
