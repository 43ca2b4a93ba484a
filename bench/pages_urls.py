"""sidms's URLs plus the plain person page of bench/pages.py: the same template from the same record, fetched
by its number with neither the read door's scope nor its audit event (the baseline of the full page)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from sidms.core.kernel import spec_for
from sidms.urls import urlpatterns as sidms_urls
from sidms.web.display import cell, label, record_name


def plain_person(request: HttpRequest, key: str) -> HttpResponse:
    spec = spec_for("person")
    record = spec.model.objects.select_related("district").get(person_no=key)
    staff = request.user
    fields = [{"label": label(spec, n), "value": cell(spec, record, n, staff)} for n in spec.fields]
    employments = record.employments.select_related("unit").all()
    related = [
        {
            "title": "就业记录",
            "headers": [label(spec_for("employment"), n) for n in ("unit_id", "start_date", "end_date")],
            "rows": [
                {
                    "url": "",
                    "cells": [
                        cell(spec_for("employment"), e, n, staff)
                        for n in ("unit_id", "start_date", "end_date")
                    ],
                }
                for e in employments
            ],
            "create_url": "",
        }
    ]
    context = {
        "spec": spec, "slug": "persons", "record": record, "key": key, "name": record_name(spec, record),
        "district": "", "status_label": "", "crumbs": [], "pending_reviews": [], "can_edit": True,
        "can_maintain": True, "entity_label": spec.model._meta.verbose_name, "fields": fields, "related": related,
    }  # fmt: skip
    return render(request, "records/detail.html", context)


urlpatterns = [path("bench/plain/persons/<str:key>/", plain_person), *sidms_urls]
