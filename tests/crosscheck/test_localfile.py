"""The file variants: CSV extracts in UTF-8 or GBK, indexed in memory, answering like the HTTP adapters."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidms.crosscheck import (
    CivilAffairsFileRegistry,
    MarketRegulationFileRegistry,
    PublicSecurityFileRegistry,
    Status,
    TaxFileRegistry,
    decode_extract,
)

CREDIT_CODE = "91371000MA3C5K8T11"
OTHER_CODE = "91371002MA3C7Q2L06"
UNIT = "威海海韵食品有限公司"
ID_NUMBER = "37100219800101123X"
PERSON = "王秀英"


def write(path: Path, lines: list[str], encoding: str) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.fixture
def gbk_market_extract(tmp_path: Path) -> Path:
    """As a registry's spreadsheet export would be: GBK, Chinese headers, CRLF line ends."""
    return write(
        tmp_path / "市场监管抽取.csv",
        [
            "统一社会信用代码,企业名称,登记状态,成立日期,抽取日期",
            f"{CREDIT_CODE},{UNIT},存续,2016-03-08,2026-04-30",
            f"{OTHER_CODE},威海荣成渔具厂,吊销,2009-07-01,2026-04-30",
        ],
        "gbk",
    )


@pytest.mark.req("R7.3")
def test_a_gbk_extract_with_chinese_headers_verifies_a_unit_and_dates_the_answer(gbk_market_extract: Path):
    registry = MarketRegulationFileRegistry(gbk_market_extract)

    result = registry.check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.VERIFIED
    assert result.source == f"file:{gbk_market_extract}"
    assert result.facts["extract_date"] == "2026-04-30"
    assert result.detail.endswith("（依据2026-04-30数据抽取文件）")
    assert registry.extract.encoding == "gbk"


@pytest.mark.req("R7.3")
def test_a_gbk_extract_flags_a_unit_whose_licence_was_revoked(gbk_market_extract: Path):
    result = MarketRegulationFileRegistry(gbk_market_extract).check(
        {"credit_code": OTHER_CODE, "name": "威海荣成渔具厂"}
    )

    assert result.status is Status.FLAGGED
    assert "营业执照已被吊销" in result.detail


@pytest.mark.req("R7.3")
def test_a_utf8_extract_with_english_headers_and_a_bom_is_read_too(tmp_path: Path):
    path = tmp_path / "market.csv"
    path.write_bytes(
        "\ufeffcredit_code,name,status\n".encode() + f"{CREDIT_CODE},威海海韵贸易有限公司,存续\n".encode()
    )
    registry = MarketRegulationFileRegistry(path)

    result = registry.check({"credit_code": CREDIT_CODE.lower(), "name": UNIT})

    assert result.status is Status.MISMATCH
    assert registry.extract.encoding == "utf-8"


@pytest.mark.req("R7.3")
def test_without_an_extract_date_column_the_file_date_in_china_time_is_used(tmp_path: Path):
    path = write(tmp_path / "tax.csv", ["credit_code,name,status", f"{CREDIT_CODE},{UNIT},正常"], "utf-8")
    written = datetime(2026, 5, 31, 17, 30, tzinfo=UTC)  # 01:30 on 1 June in Weihai
    os.utime(path, (written.timestamp(), written.timestamp()))

    result = TaxFileRegistry(path).check({"credit_code": CREDIT_CODE, "name": UNIT})

    assert result.status is Status.VERIFIED
    assert result.facts["extract_date"] == "2026-06-01"


@pytest.mark.req("R7.3")
def test_a_code_absent_from_the_extract_is_not_found(gbk_market_extract: Path):
    result = MarketRegulationFileRegistry(gbk_market_extract).check({"credit_code": "91370000000000000X"})

    assert result.status is Status.NOT_FOUND
    assert result.detail == "市场监管部门未查到该统一社会信用代码。（依据2026-04-30数据抽取文件）"


@pytest.mark.req("R7.3")
def test_a_missing_extract_is_unavailable_with_a_clear_detail(tmp_path: Path):
    result = TaxFileRegistry(tmp_path / "tax-2026-05.csv").check({"credit_code": CREDIT_CODE})

    assert result.status is Status.UNAVAILABLE
    assert result.detail == "税务部门：找不到数据抽取文件（tax-2026-05.csv），未核查。"
    assert result.facts == {"reason": "no_extract"}


@pytest.mark.req("R7.3")
def test_an_extract_in_neither_utf8_nor_gbk_is_unavailable(tmp_path: Path):
    path = tmp_path / "market.csv"
    path.write_bytes(b"credit_code,name,status\n" + b"\xff\xfe\xff\xfe\x81\x30\n")

    result = MarketRegulationFileRegistry(path).check({"credit_code": CREDIT_CODE})

    assert result.status is Status.UNAVAILABLE
    assert "既不是UTF-8也不是GBK" in result.detail


@pytest.mark.req("R7.3")
def test_an_extract_missing_a_documented_column_is_unavailable_and_names_it(tmp_path: Path):
    path = write(tmp_path / "market.csv", ["统一社会信用代码,企业名称", f"{CREDIT_CODE},{UNIT}"], "utf-8")

    result = MarketRegulationFileRegistry(path).check({"credit_code": CREDIT_CODE})

    assert result.status is Status.UNAVAILABLE
    assert "缺少列：status" in result.detail


@pytest.mark.req("R7.3")
def test_an_empty_extract_is_unavailable(tmp_path: Path):
    path = tmp_path / "market.csv"
    path.write_bytes(b"")

    assert MarketRegulationFileRegistry(path).check({"credit_code": CREDIT_CODE}).status is Status.UNAVAILABLE


@pytest.mark.req("R7.3")
def test_a_replaced_extract_is_read_again_without_a_restart(tmp_path: Path):
    path = write(tmp_path / "tax.csv", ["credit_code,name,status", f"{CREDIT_CODE},{UNIT},正常"], "utf-8")
    registry = TaxFileRegistry(path)
    assert registry.check({"credit_code": CREDIT_CODE}).status is Status.VERIFIED

    write(path, ["纳税人识别号,纳税人名称,纳税人状态", f"{CREDIT_CODE},{UNIT},非正常"], "gbk")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))

    result = registry.check({"credit_code": CREDIT_CODE})
    assert result.status is Status.FLAGGED
    assert "非正常户" in result.detail


@pytest.mark.req("R7.3")
def test_conflicting_rows_for_one_code_are_unavailable_rather_than_picked(tmp_path: Path):
    path = write(
        tmp_path / "tax.csv",
        ["credit_code,name,status", f"{CREDIT_CODE},{UNIT},正常", f"{CREDIT_CODE},{UNIT},注销"],
        "utf-8",
    )

    result = TaxFileRegistry(path).check({"credit_code": CREDIT_CODE})

    assert result.status is Status.UNAVAILABLE
    assert "多条不同记录（第2、3行）" in result.detail


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    ("row", "status", "phrase"),
    [
        (f"{ID_NUMBER},{PERSON},否", Status.VERIFIED, "相符"),
        (f"{ID_NUMBER.lower()},王秀云,0", Status.MISMATCH, "不符"),
        (f"{ID_NUMBER},{PERSON},是", Status.FLAGGED, "已登记死亡"),
    ],
)
def test_a_public_security_extract_matches_the_name_and_flags_the_deceased(
    tmp_path: Path, row: str, status: Status, phrase: str
):
    path = write(tmp_path / "ga.csv", ["公民身份号码,姓名,是否死亡,抽取日期", row + ",2026-05-10"], "gbk")

    result = PublicSecurityFileRegistry(path).check({"id_number": ID_NUMBER, "name": PERSON})

    assert result.status is status
    assert phrase in result.detail
    assert ID_NUMBER not in result.detail
    assert result.facts["extract_date"] == "2026-05-10"


@pytest.mark.req("R7.3")
def test_a_malformed_flag_in_an_extract_row_is_unavailable_and_points_at_the_line(tmp_path: Path):
    path = write(tmp_path / "ga.csv", ["id_number,name,deceased", f"{ID_NUMBER},{PERSON},maybe"], "utf-8")

    result = PublicSecurityFileRegistry(path).check({"id_number": ID_NUMBER, "name": PERSON})

    assert result.status is Status.UNAVAILABLE
    assert "第2行" in result.detail


@pytest.mark.req("R7.3")
def test_a_civil_affairs_extract_flags_a_death_with_its_date(tmp_path: Path):
    path = write(
        tmp_path / "mz.csv",
        [
            "身份证号码,是否死亡,死亡日期,婚姻状况",
            f"{ID_NUMBER},是,2025-11-02,丧偶",
            "371002198503152014,否,,已婚",
        ],
        "gbk",
    )
    registry = CivilAffairsFileRegistry(path)

    deceased = registry.check({"id_number": ID_NUMBER})
    living = registry.check({"id_number": "371002198503152014"})

    assert deceased.status is Status.FLAGGED
    assert "已于2025-11-02死亡" in deceased.detail
    assert living.status is Status.VERIFIED
    assert living.facts["marital_status"] == "已婚"


@pytest.mark.req("R7.3")
def test_decoding_tries_utf8_before_gbk():
    text = "单位名称,状态\n"

    assert decode_extract(text.encode("utf-8")) == (text, "utf-8")
    assert decode_extract(text.encode("gbk")) == (text, "gbk")
