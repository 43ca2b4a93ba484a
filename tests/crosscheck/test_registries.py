"""The four registry adapters over HTTP, the factory, and running checks side by side."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC

import pytest

from sidms.crosscheck import (
    CIVIL_AFFAIRS,
    MARKET_REGULATION,
    PUBLIC_SECURITY,
    REGISTRY_NAMES,
    TAX,
    CheckResult,
    CivilAffairsRegistry,
    HttpRegistryClient,
    MarketRegulationFileRegistry,
    MarketRegulationRegistry,
    PublicSecurityRegistry,
    Registry,
    Status,
    TaxRegistry,
    build_registry,
    check_all,
)

from .conftest import Reply, ScriptedRegistry

CREDIT_CODE = "91371000MA3C5K8T11"
UNIT = "威海海韵食品有限公司"
ID_NUMBER = "37100219800101123X"
PERSON = "王秀英"


@pytest.fixture
def client(registry_server: ScriptedRegistry) -> Iterator[HttpRegistryClient]:
    with HttpRegistryClient(registry_server.base_url, timeout=1.0, retries=0, backoff=0.0) as client:
        yield client


def entity(status: str = "存续", name: str = UNIT) -> dict[str, str]:
    return {"credit_code": CREDIT_CODE, "name": name, "status": status, "registered_at": "2016-03-08"}


# --- 市场监管 -------------------------------------------------------------------------------------------


@pytest.mark.req("R7.3")
def test_a_registered_unit_with_the_same_name_is_verified_by_market_regulation(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, entity()))

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.VERIFIED
    assert result.registry == MARKET_REGULATION
    assert "信息一致" in result.detail
    assert result.facts == {"name": UNIT, "status": "存续", "registered_at": "2016-03-08"}
    assert result.source == f"http:{registry_server.base_url}"
    assert result.checked_at.tzinfo is UTC


@pytest.mark.req("R7.3")
def test_names_that_differ_only_in_full_width_brackets_or_spaces_still_match(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script(
        "GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, entity(name="威海海韵食品（集团）有限公司"))
    )

    result = MarketRegulationRegistry(client).check(
        {"credit_code": CREDIT_CODE.lower(), "name": "威海海韵食品 (集团) 有限公司"}
    )

    assert result.status is Status.VERIFIED


@pytest.mark.req("R7.3")
def test_a_different_registered_name_is_a_mismatch_naming_both_names(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script(
        "GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, entity(name="威海海韵贸易有限公司"))
    )

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.MISMATCH
    assert "威海海韵贸易有限公司" in result.detail and UNIT in result.detail
    assert "不一致" in result.detail


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(("status", "phrase"), [("注销", "已注销"), ("吊销", "吊销"), ("迁出", "不是“存续”")])
def test_a_deregistered_revoked_or_otherwise_inactive_unit_is_flagged(
    registry_server: ScriptedRegistry, client: HttpRegistryClient, status: str, phrase: str
):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, entity(status=status)))

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.FLAGGED
    assert f"登记状态为“{status}”" in result.detail and phrase in result.detail
    assert result.facts["status"] == status


@pytest.mark.req("R7.3")
def test_a_deregistered_unit_under_another_name_is_flagged_and_the_detail_says_both(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script(
        "GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, entity(status="注销", name="威海海韵贸易有限公司"))
    )

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.FLAGGED
    assert "已注销" in result.detail and "不一致" in result.detail


@pytest.mark.req("R7.3")
def test_an_unknown_credit_code_is_not_found(registry_server: ScriptedRegistry, client: HttpRegistryClient):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(404, {"error": "no such entity"}))

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.NOT_FOUND
    assert result.detail == "市场监管部门未查到该统一社会信用代码。"


@pytest.mark.req("R7.3")
def test_an_answer_about_another_credit_code_is_not_trusted(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    other = {**entity(), "credit_code": "91371002MA3C7Q2L06"}
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, other))

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.UNAVAILABLE
    assert result.facts["reason"] == "bad_reply"


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    "body",
    [
        [],
        {"credit_code": CREDIT_CODE, "name": UNIT},
        {"credit_code": CREDIT_CODE, "name": 7, "status": "存续"},
    ],
)
def test_an_answer_of_the_wrong_shape_is_unavailable_rather_than_guessed(
    registry_server: ScriptedRegistry, client: HttpRegistryClient, body: object
):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, body))

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.UNAVAILABLE
    assert result.detail.startswith("市场监管部门接口不可用：接口返回内容无法识别")


@pytest.mark.req("R7.3")
def test_a_server_error_reads_as_not_verified_in_chinese(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(502, {}))

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.UNAVAILABLE
    assert result.detail == "市场监管部门接口不可用：接口服务端错误（HTTP 502），未核查。"
    assert result.facts == {"reason": "server_error", "attempts": "1"}


@pytest.mark.req("R7.3")
def test_a_refused_credential_is_unavailable_and_says_so(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(401, {"error": "token"}))

    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.UNAVAILABLE
    assert "接口拒绝请求（HTTP 401）" in result.detail


@pytest.mark.req("R7.3")
def test_a_credit_code_cannot_escape_its_path_segment(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    MarketRegulationRegistry(client).check({"credit_code": "../../admin?x=1", "name": UNIT})

    assert registry_server.requests[0].path == "/v1/entities/..%2F..%2FADMIN%3FX%3D1"


# --- 公安 -----------------------------------------------------------------------------------------------


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    ("answer", "status", "phrase"),
    [
        ({"match": True, "deceased": False}, Status.VERIFIED, "公民身份号码与姓名相符"),
        ({"match": False, "deceased": False}, Status.MISMATCH, "公民身份号码与姓名不符"),
        ({"match": True, "deceased": True}, Status.FLAGGED, "已登记死亡"),
    ],
)
def test_public_security_answers_verified_mismatch_or_flagged_for_the_deceased(
    registry_server: ScriptedRegistry, client: HttpRegistryClient, answer: dict, status: Status, phrase: str
):
    registry_server.script("POST", "/v1/identity/verify", Reply(200, answer))

    result = PublicSecurityRegistry(client).check({"id_number": ID_NUMBER, "name": PERSON})

    assert result.status is status
    assert phrase in result.detail
    assert result.registry == PUBLIC_SECURITY


@pytest.mark.req("R7.3")
def test_public_security_gets_the_id_number_in_the_body_and_never_in_the_url(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script("POST", "/v1/identity/verify", Reply(200, {"match": True, "deceased": False}))

    PublicSecurityRegistry(client).check({"id_number": ID_NUMBER.lower(), "name": f" {PERSON} "})

    (seen,) = registry_server.requests
    assert seen.method == "POST" and ID_NUMBER not in seen.path
    assert seen.json() == {"id_number": ID_NUMBER, "name": PERSON}


@pytest.mark.req("R7.3")
def test_an_unknown_id_number_is_not_found_by_public_security(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script("POST", "/v1/identity/verify", Reply(404, {}))

    result = PublicSecurityRegistry(client).check({"id_number": ID_NUMBER, "name": PERSON})

    assert result.status is Status.NOT_FOUND
    assert result.detail == "公安部门未查到该公民身份号码。"


@pytest.mark.req("R7.3")
def test_the_id_number_appears_in_no_log_record_and_no_result(
    registry_server: ScriptedRegistry, caplog: pytest.LogCaptureFixture
):
    registry_server.script(
        "POST", "/v1/identity/verify", Reply(500, {}), Reply(200, {"match": True, "deceased": True})
    )
    registry_server.script(
        "POST", "/v1/persons/events", Reply(200, {"deceased": False, "marital_status": "已婚"})
    )
    subject = {"id_number": ID_NUMBER, "name": PERSON}
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included

    with HttpRegistryClient(registry_server.base_url, timeout=1.0, retries=1, backoff=0.0) as client:
        results = [PublicSecurityRegistry(client).check(subject), CivilAffairsRegistry(client).check(subject)]

    assert any(record.name == "sidms.crosscheck" for record in caplog.records)
    assert any(record.name.startswith("httpx") for record in caplog.records)
    assert ID_NUMBER not in caplog.text
    assert all(ID_NUMBER not in str(result.as_dict()) for result in results)


# --- 民政 -----------------------------------------------------------------------------------------------


@pytest.mark.req("R7.3")
def test_civil_affairs_flags_a_deceased_person_with_the_date_of_death(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script(
        "POST",
        "/v1/persons/events",
        Reply(200, {"deceased": True, "death_date": "2025-11-02", "marital_status": "丧偶"}),
    )

    result = CivilAffairsRegistry(client).check({"id_number": ID_NUMBER})

    assert result.status is Status.FLAGGED
    assert result.detail == "民政部门：该人员已于2025-11-02死亡，请核实。"
    assert result.facts["death_date"] == "2025-11-02"
    assert registry_server.requests[0].json() == {"id_number": ID_NUMBER}


@pytest.mark.req("R7.3")
def test_civil_affairs_verifies_a_living_person_and_reports_the_marital_status(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script(
        "POST",
        "/v1/persons/events",
        Reply(200, {"deceased": False, "death_date": None, "marital_status": "已婚"}),
    )

    result = CivilAffairsRegistry(client).check({"id_number": ID_NUMBER})

    assert result.status is Status.VERIFIED
    assert result.detail == "民政部门：无死亡登记；婚姻状况：已婚。"
    assert result.facts == {"deceased": "false", "marital_status": "已婚"}


@pytest.mark.req("R7.3")
def test_civil_affairs_without_a_record_is_not_found(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script("POST", "/v1/persons/events", Reply(404, {}))

    assert CivilAffairsRegistry(client).check({"id_number": ID_NUMBER}).status is Status.NOT_FOUND


# --- 税务 -----------------------------------------------------------------------------------------------


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    ("answer", "status", "phrase"),
    [
        ({"name": UNIT, "status": "正常"}, Status.VERIFIED, "信息一致"),
        ({"name": UNIT, "status": "非正常"}, Status.FLAGGED, "非正常户"),
        ({"name": UNIT, "status": "注销"}, Status.FLAGGED, "税务登记已注销"),
        ({"name": "威海海韵贸易有限公司", "status": "正常"}, Status.MISMATCH, "不一致"),
    ],
)
def test_tax_registration_is_verified_flagged_or_mismatched(
    registry_server: ScriptedRegistry, client: HttpRegistryClient, answer: dict, status: Status, phrase: str
):
    registry_server.script("GET", f"/v1/taxpayers/{CREDIT_CODE}", Reply(200, answer))

    result = TaxRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is status
    assert result.detail.startswith("税务部门：") and phrase in result.detail
    assert result.registry == TAX


@pytest.mark.req("R7.3")
def test_an_unregistered_taxpayer_is_not_found(registry_server: ScriptedRegistry, client: HttpRegistryClient):
    registry_server.script("GET", f"/v1/taxpayers/{CREDIT_CODE}", Reply(404, {}))

    assert TaxRegistry(client).check({"credit_code": CREDIT_CODE}).status is Status.NOT_FOUND


# --- the factory and running several checks --------------------------------------------------------------


@pytest.mark.req("R7.3")
@pytest.mark.parametrize("name", REGISTRY_NAMES)
def test_a_registry_switched_off_answers_not_configured_and_not_verified(name: str):
    result = build_registry(name, {"mode": "off"}).check({"id_number": ID_NUMBER, "credit_code": CREDIT_CODE})

    assert result.status is Status.UNAVAILABLE
    assert result.detail == "未配置该部门接口，未核查"
    assert result.registry == name


@pytest.mark.req("R7.3")
def test_a_registry_without_configuration_is_off():
    assert build_registry(TAX, {}).check({"credit_code": CREDIT_CODE}).status is Status.UNAVAILABLE


@pytest.mark.req("R7.3")
def test_the_factory_builds_a_working_http_adapter_from_text_settings(registry_server: ScriptedRegistry):
    registry_server.script(
        "GET", f"/v1/taxpayers/{CREDIT_CODE}", Reply(500, {}), Reply(200, {"name": UNIT, "status": "正常"})
    )
    config = {
        "mode": "http",
        "base_url": registry_server.base_url + "/",
        "timeout": "1.5",
        "retries": "1",
        "backoff": "0",
        "token": "t0ken",
    }

    registry = build_registry(TAX, config)
    result = registry.check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert isinstance(registry, Registry)
    assert result.status is Status.VERIFIED
    assert registry_server.hits == 2
    assert registry_server.requests[1].headers["Authorization"] == "Bearer t0ken"


@pytest.mark.req("R7.3")
def test_the_factory_builds_a_file_adapter(tmp_path):
    registry = build_registry(MARKET_REGULATION, {"mode": "file", "path": str(tmp_path / "extract.csv")})

    assert isinstance(registry, MarketRegulationFileRegistry)
    assert registry.check({"credit_code": CREDIT_CODE}).status is Status.UNAVAILABLE


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("weather", {"mode": "off"}, "unknown registry"),
        (TAX, {"mode": "ftp"}, "mode must be one of"),
        (TAX, {"mode": "http"}, "needs base_url"),
        (TAX, {"mode": "file"}, "needs path"),
        (
            TAX,
            {"mode": "http", "base_url": "http://127.0.0.1:9", "timeout": "soon"},
            "timeout must be a number",
        ),
        (
            TAX,
            {"mode": "http", "base_url": "http://127.0.0.1:9", "retries": "1.5"},
            "retries must be a whole",
        ),
        (TAX, {"mode": "http", "base_url": "http://127.0.0.1:9", "timout": "3"}, "unknown configuration key"),
    ],
)
def test_bad_configuration_is_refused_at_once(name: str, config: dict, message: str):
    with pytest.raises(ValueError, match=message):
        build_registry(name, config)


@pytest.mark.req("R7.3")
def test_checks_against_several_registries_run_side_by_side(registry_server: ScriptedRegistry):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, entity(), delay=0.4))
    registry_server.script(
        "GET", f"/v1/taxpayers/{CREDIT_CODE}", Reply(200, {"name": UNIT, "status": "正常"}, delay=0.4)
    )
    base = {"mode": "http", "base_url": registry_server.base_url, "timeout": "2"}
    registries = [
        build_registry(MARKET_REGULATION, base),
        build_registry(TAX, base),
        build_registry(CIVIL_AFFAIRS, {}),
    ]

    started = time.monotonic()
    results = check_all(registries, {"credit_code": CREDIT_CODE, "name": UNIT})
    elapsed = time.monotonic() - started

    assert [result.status for result in results] == [Status.VERIFIED, Status.VERIFIED, Status.UNAVAILABLE]
    assert elapsed < 0.75  # not 0.8: the two slow registries were asked at the same time


@pytest.mark.req("R7.3")
def test_a_result_survives_a_round_trip_through_its_stored_form(
    registry_server: ScriptedRegistry, client: HttpRegistryClient
):
    registry_server.script("GET", f"/v1/entities/{CREDIT_CODE}", Reply(200, entity(status="吊销")))
    result = MarketRegulationRegistry(client).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert CheckResult.from_dict(result.as_dict()) == result


@pytest.mark.req("R7.3")
def test_a_subject_without_the_key_the_registry_needs_is_a_programming_error(client: HttpRegistryClient):
    with pytest.raises(ValueError, match="id_number"):
        PublicSecurityRegistry(client).check({"name": PERSON})
