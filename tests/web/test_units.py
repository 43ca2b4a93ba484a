from __future__ import annotations

import pytest

from sidms.registry.models import Unit

pytestmark = [pytest.mark.django_db]


def _unit(no: str, name: str, district: str, code: str = "91371082775260043P") -> Unit:
    return Unit.objects.create(
        unit_no=no, name=name, credit_code=code, unit_type="enterprise", district_id=district, phone="0631-5221234"
    )


@pytest.mark.req("R10.3")
def test_units_are_listed_and_searched_within_the_district(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    _unit("3710020001", "威海海之韵科技有限公司", "371002", "91371002MA3C0000X0")
    _unit("3710820001", "荣成市海洋水产有限公司", "371082")
    client = signed_in(huancui_clerk)
    listing = client.get("/units/").content.decode()
    assert "海之韵" in listing and "荣成市海洋水产" not in listing
    assert "荣成市海洋水产" not in client.get("/units/", {"q": "91371082775260043P"}).content.decode()
    assert client.get("/units/3710820001/").status_code == 404
    assert "0631-5221234" in client.get("/units/3710020001/").content.decode()


@pytest.mark.req("R10.3")
def test_a_unit_is_found_by_its_credit_code(make_staff, signed_in) -> None:  # type: ignore[no-untyped-def]
    city = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    _unit("3710820001", "荣成市海洋水产有限公司", "371082")
    page = signed_in(city).get("/units/", {"q": "91371082775260043p"}).content.decode()
    assert "荣成市海洋水产有限公司" in page
