"""Staff pages. Each view reads top to bottom: the middleware has authenticated the staff member with two
factors; the view parses its input, calls one policy function, and renders."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sidms.access import policies
from sidms.parameters.codes import code_label
from sidms.parameters.models import CodeTable, Region
from sidms.registry.models import Person, Staff, Unit


def _staff(request: HttpRequest) -> Staff:
    user = request.user
    assert isinstance(user, Staff)  # the middleware lets only authenticated staff through
    return user


def dashboard(request: HttpRequest) -> HttpResponse:
    staff = _staff(request)
    policies.require(staff, "dashboard.view", request=request)
    context: dict[str, Any] = {"can": {p: policies.has_permission(staff, p) for p in policies.PERMISSIONS}}
    if policies.has_permission(staff, "person.view"):
        persons = policies._scoped(staff, Person.objects.all())
        units = policies._scoped(staff, Unit.objects.all())
        names = dict(Region.objects.filter(is_district=True).values_list("code", "name"))
        by_district = (
            persons.values("district_id").annotate(n=Count("pk")).order_by("district_id")
        )
        context.update(
            persons=persons.count(),
            units=units.count(),
            by_district=[(row["district_id"], names.get(row["district_id"], ""), row["n"]) for row in by_district],
        )
    return render(request, "web/dashboard.html", context)


def person_list(request: HttpRequest) -> HttpResponse:
    staff = _staff(request)
    query = request.GET.get("q", "")
    search = policies.person_search(actor=staff, query=query, request=request)
    page = Paginator(search.results.only("person_no", "name", "sex", "birth_date", "category", "district__name", "id_number"), 50).get_page(request.GET.get("page"))
    rows = [
        {
            "person": person,
            "id_masked": policies.mask_id_number(person.id_number),
            "category": code_label(CodeTable.PERSON_CATEGORY, person.category),
        }
        for person in page
    ]
    return render(request, "web/person_list.html", {"page": page, "rows": rows, "q": query, "by": search.by})


def person_detail(request: HttpRequest, person_no: str) -> HttpResponse:
    staff = _staff(request)
    person = policies.person_get(actor=staff, person_no=person_no, request=request)
    employments = person.employments.select_related("unit").all()
    return render(
        request,
        "web/person_detail.html",
        {
            "person": person,
            "category": code_label(CodeTable.PERSON_CATEGORY, person.category),
            "phone_masked": policies.mask_phone(person.phone),
            "account_masked": policies.mask_account(person.bank_account),
            "employments": employments,
        },
    )


def unit_list(request: HttpRequest) -> HttpResponse:
    staff = _staff(request)
    query = request.GET.get("q", "")
    units = policies.unit_search(actor=staff, query=query, request=request)
    page = Paginator(units.defer("phone"), 50).get_page(request.GET.get("page"))
    rows = [{"unit": u, "unit_type": code_label(CodeTable.UNIT_TYPE, u.unit_type)} for u in page]
    return render(request, "web/unit_list.html", {"page": page, "rows": rows, "q": query})


def unit_detail(request: HttpRequest, unit_no: str) -> HttpResponse:
    staff = _staff(request)
    unit = policies.unit_get(actor=staff, unit_no=unit_no, request=request)
    employees = policies.unit_employees(actor=staff, unit=unit)[:200]
    return render(
        request,
        "web/unit_detail.html",
        {
            "unit": unit,
            "unit_type": code_label(CodeTable.UNIT_TYPE, unit.unit_type),
            "employees": employees,
        },
    )


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
