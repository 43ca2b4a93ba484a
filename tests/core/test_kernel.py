"""The kernel grows by declaration: its registry is built from the governed models themselves, and a model
that is governed but declares nothing, or declares a field it does not have, stops the system at start-up."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from sidms.core import kernel
from sidms.core.declare import Declaration
from sidms.core.governed import Governed


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


@pytest.mark.req("R5")
def test_the_registry_built_from_the_models_is_exactly_the_governed_models() -> None:
    kernel.build()
    declared = {spec.model for spec in kernel.ENTITIES.values()}
    # Every concrete model that derives from the governed base, found by Python's class tree, independently of
    # the registry's own way of finding them.
    governed = {
        m
        for m in _subclasses(Governed)
        if not m._meta.abstract and apps.is_installed(m._meta.app_config.name)
    }
    assert declared == governed
    assert {spec.name for spec in kernel.ENTITIES.values()} >= {
        "person",
        "unit",
        "employment",
        "agency",
        "service_institution",
    }
    for spec in kernel.ENTITIES.values():
        assert spec.model.governance is spec.declaration  # type: ignore[attr-defined]
        assert kernel.spec_for(spec.name) is spec and kernel.spec_of_model(spec.model) is spec


@pytest.mark.req("R5")
def test_declared_scope_paths_give_each_records_district() -> None:
    person, employment = kernel.spec_for("person"), kernel.spec_for("employment")
    assert person.district_lookup == "district_id"
    assert employment.district_lookup == "person__district_id"  # an employment is its person's


def test_a_declaration_may_not_let_a_batch_change_an_identity_field() -> None:
    with pytest.raises(ValueError, match="identity"):
        Declaration(
            entity="x", fields=("name",), key="pk", district=None, batch_change=("name",), identity=("name",)
        )


def test_a_declaration_may_not_mask_with_an_unknown_mask() -> None:
    with pytest.raises(ValueError, match="mask"):
        Declaration(entity="x", fields=("name",), key="pk", district=None, masks={"name": {"window": "blur"}})


def test_a_governed_model_without_a_declaration_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    class Orphan(Governed):
        class Meta:
            app_label = "registry"
            managed = False

    try:
        monkeypatch.setattr(
            kernel, "governed_models", lambda: [*{s.model for s in kernel.ENTITIES.values()}, Orphan]
        )
        with pytest.raises(ImproperlyConfigured, match="declares no governance"):
            kernel.build()
    finally:
        monkeypatch.undo()
        apps.all_models["registry"].pop("orphan", None)
        apps.clear_cache()
        kernel.build()


def test_a_declared_field_the_model_does_not_have_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    class Typo(Governed):
        name = models.CharField(max_length=10)
        governance = Declaration(entity="typo", fields=("nmae",), key="pk", district=None)

        class Meta:
            app_label = "registry"
            managed = False

    try:
        monkeypatch.setattr(kernel, "governed_models", lambda: [Typo])
        with pytest.raises(Exception, match="nmae"):
            kernel.build()
    finally:
        monkeypatch.undo()
        apps.all_models["registry"].pop("typo", None)
        apps.clear_cache()
        kernel.build()
