"""sidms's URLs plus the plain person page of bench/pages.py: the same template from the same record and the
same related lists (employments, enrolments, bases, entitlements, contributions), fetched by its number with
neither the read door's scope nor its audit events (the baseline of the full page)."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from sidms.core.kernel import spec_for
from sidms.urls import urlpatterns as sidms_urls
from sidms.web.display import cell, label, record_name, record_url
from sidms.web.records.pages import page


def plain_person(request: HttpRequest, key: str) -> HttpResponse:
    spec = spec_for("person")
    record = spec.model.objects.get(person_no=key)
    staff = request.user
    fields = [
        {"label": label(spec, n), "value": cell(spec, record, n, staff)} for n in spec.fields if n != "uid"
    ]
    related: list[dict[str, Any]] = []
    for section in page("person").related:  # as sidms.web.records.views._related, without policies
        other = spec_for(section.entity)
        rows = other.model._default_manager.filter(**{section.reference: record})
        if section.only_current:
            rows = rows.filter(**{f"{section.only_current}__isnull": True})
        joined = [n[:-3] for n in section.columns if n.endswith("_id")]
        if joined:
            rows = rows.select_related(*joined)
        if section.newest_first:
            rows = rows.order_by(f"-{section.newest_first}", "-pk")
        shown = list(rows[: section.limit + 1])
        related.append(
            {
                "title": section.title,
                "headers": [label(other, n) for n in section.columns],
                "rows": [
                    {
                        "url": record_url(other, row),
                        "cells": [cell(other, row, n, staff) for n in section.columns],
                    }
                    for row in shown[: section.limit]
                ],
                "create_url": "",
                "more": len(shown) > section.limit,
                "limit": section.limit,
            }
        )
    context = {
        "spec": spec, "slug": "persons", "record": record, "key": key, "name": record_name(spec, record),
        "district": "", "status_label": "", "crumbs": [], "pending_reviews": [], "can_edit": True,
        "can_maintain": True, "entity_label": spec.model._meta.verbose_name, "fields": fields, "related": related,
    }  # fmt: skip
    return render(request, "records/detail.html", context)


urlpatterns = [path("bench/plain/persons/<str:key>/", plain_person), *sidms_urls]
