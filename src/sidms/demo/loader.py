"""Load the generated Weihai demo data the way every record is stored: through the change pipeline, as
city-approved import batches (R9.3). Persons and units come in as a legacy migration, so the documented
anomalies survive for the quality work and are flagged in their revisions (docs/demo-data.md)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings

from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
from sidms.demo.generate import DemoData
from sidms.registry.models import Agency, Person, Staff, Unit
from sidms.security.accounts import staff_create, staff_enrol_device, staff_set_agency
from sidms.security.models import SealedTOTPDevice


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    district: str
    posts: tuple[str, ...]
    role: str  # what to try with it, shown in the printed table


ACCOUNTS = (
    DemoAccount("clerk_hc", "环翠窗口 张敏", "371002", ("window_clerk",), "窗口经办：采集、修改、申报维护"),
    DemoAccount("clerk2_hc", "环翠窗口 刘洋", "371002", ("window_clerk",), "窗口经办：执行已批准的维护"),
    DemoAccount("clerk_rs", "乳山窗口 孙丽", "371083", ("window_clerk",), "窗口经办：只能看到乳山市"),
    DemoAccount("reviewer_hc", "环翠审核 王强", "371002", ("reviewer",), "审核：人工审核队列"),
    DemoAccount("approver_city", "市级审批 李静", "371000", ("approver",), "审批：维护审批、批量审批"),
    DemoAccount("rechecker_hc", "环翠复核 赵磊", "371002", ("rechecker",), "复核：维护复核"),
    DemoAccount(
        "admin_city", "市级系统管理员 陈晨", "371000", ("city_admin",), "市级系统管理员：提议修改采集规则"
    ),
    DemoAccount(
        "admin2_city",
        "市级系统管理员 黄磊",
        "371000",
        ("city_admin",),
        "市级系统管理员：确认规则修改（四眼原则）",
    ),
    DemoAccount(
        "security_city", "安全管理员 林峰", "371000", ("security_admin",), "安全管理员：账号、岗位、保密协议"
    ),
    DemoAccount(
        "security2_city", "安全管理员 何静", "371000", ("security_admin",), "安全管理员：确认岗位授予"
    ),
    DemoAccount("stat_city", "市级统计 周婷", "371000", ("statistician",), "统计"),
    DemoAccount("auditor_city", "市级审计 吴刚", "371000", ("auditor",), "审计：审计日志"),
    DemoAccount("info_city", "信息机构 郑伟", "371000", ("info_centre",), "信息机构：导入、批量执行"),
    DemoAccount("supervisor_city", "人社局监督 冯雪", "371000", ("supervisor",), "行政监督"),
    # Archive review and retention purges are four-eyes between two archive reviewers (docs/archives.md).
    DemoAccount(
        "archivist_city", "档案审核 宋佳", "371000", ("archive_reviewer",), "档案审核：审核材料、提议销毁"
    ),
    DemoAccount(
        "archivist2_city", "档案审核 唐宁", "371000", ("archive_reviewer",), "档案审核：确认销毁（四眼原则）"
    ),
)


def accounts_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-accounts.txt"


def ensure_accounts() -> list[tuple[DemoAccount, str, str]]:
    """Create the demo accounts once (random passwords, enrolled TOTP); return (account, password, secret)."""
    saved = _read_saved()
    out = []
    for account in ACCOUNTS:
        staff = Staff.objects.filter(username=account.username).first()
        if staff is None:
            password = f"Wh-{secrets.token_urlsafe(9)}"
            agency = Agency.objects.filter(district_id=account.district).first()
            staff = staff_create(
                actor="system:demo", username=account.username, password=password, district=account.district,
                posts=account.posts, full_name=account.full_name, agency=agency, agreement_signed_on=date(2026, 1, 1),
            )  # fmt: skip
            staff_enrol_device(actor="system:demo", staff=staff, name="demo")
            saved[account.username] = password
        device = SealedTOTPDevice.objects.filter(user=staff, confirmed=True).first()
        secret = device.secret_base32 if device else ""
        out.append((account, saved.get(account.username, "(见首次运行时的输出)"), secret))
    _write_saved(saved)
    return out


def _read_saved() -> dict[str, str]:
    path = accounts_file()
    if not path.exists():
        return {}
    pairs = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line)
    return {user: password for user, password in pairs}


def _write_saved(saved: Mapping[str, str]) -> None:
    import os

    path = accounts_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# demo accounts: username<TAB>password (demo only; never use these in production)\n")
        handle.writelines(f"{user}\t{password}\n" for user, password in saved.items())


def _rows(
    records: Callable[[], Iterator[Any]], convert: Callable[[Any], dict[str, Any]]
) -> Callable[[], Iterator[dict[str, Any]]]:
    return lambda: (convert(record) for record in records())


def load_demo(data: DemoData, *, progress: Callable[[str], None] = print) -> dict[str, int]:
    """Import everything through approved batches. Returns counts per entity."""
    operator = Staff.objects.get(username="info_city")
    approver = Staff.objects.get(username="approver_city")
    counts: dict[str, int] = {}

    def run(entity: str, rows: Callable[[], Iterator[dict[str, Any]]], reason: str, *, legacy: bool) -> None:
        progress(f"  {entity}: applying, approving and executing an import batch …")
        batch = batch_apply_import(actor=operator, entity=entity, rows=rows(), reason=reason, legacy=legacy)
        batch_decide(actor=approver, batch_id=batch.pk, approve=True, reason="演示数据导入")
        counts[entity] = batch_execute(actor=operator, batch_id=batch.pk, rows=rows).rows
        progress(f"  {entity}: {counts[entity]} rows")

    if not Agency.objects.exists():
        run("agency", _rows(lambda: iter(data.agencies), _agency), "演示：经办机构", legacy=False)
    run(
        "service_institution",
        _rows(lambda: iter(data.service_institutions), _institution),
        "演示：服务机构",
        legacy=False,
    )
    run("unit", _rows(lambda: iter(data.units), _unit), "演示：参保单位（存量数据迁移）", legacy=True)
    run("person", _rows(lambda: iter(data.persons), _person), "演示：参保人员（存量数据迁移）", legacy=True)
    person_ids = dict(Person.objects.values_list("person_no", "pk"))
    unit_ids = dict(Unit.objects.values_list("unit_no", "pk"))

    def employment(record: Any) -> dict[str, Any]:
        return {
            "person_id": str(person_ids[record.person_no]),
            "unit_id": str(unit_ids[record.unit_no]),
            "start_date": record.start_date.isoformat(),
            "end_date": record.end_date.isoformat() if record.end_date else "",
        }

    run(
        "employment",
        _rows(lambda: iter(data.employments), employment),
        "演示：就业记录（存量数据迁移）",
        legacy=True,
    )
    return counts


def _plain(record: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A record's fields as an import row. The records hold only flat values (strings, dates, a tuple of
    anomaly names), so the fields are read directly: ``dataclasses.asdict``'s deep copy of every value cost
    more than generating the record, for each of a million persons, twice per import (file digest when
    applied, then the rows again when executed)."""
    out = {}
    kind = type(record)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in fields(record))
    for name in names:
        if name in drop:
            continue
        v = getattr(record, name)
        out[name] = v.isoformat() if isinstance(v, date) else v
    return out


_FIELDS: dict[type, tuple[str, ...]] = {}


def _agency(record: Any) -> dict[str, Any]:
    values = _plain(record)
    values["district_id"] = values.pop("district")
    return values


def _institution(record: Any) -> dict[str, Any]:
    values = _plain(record)
    values["district_id"] = values.pop("district")
    values["status"] = "active"
    return values


def _unit(record: Any) -> dict[str, Any]:
    values = _plain(record, drop=("anomalies",))
    values["district_id"] = values.pop("district")
    values["status"] = "active"
    return values


def _person(record: Any) -> dict[str, Any]:
    values = _plain(record, drop=("anomalies",))
    values["district_id"] = values.pop("district")
    values["status"] = "active"
    return values


def link_agencies() -> None:
    """Attach demo staff to their agency once the agencies exist (staff are created before the import,
    because the import needs an applicant and an approver)."""
    city = Agency.objects.filter(level="city").first()
    for staff in Staff.objects.filter(agency__isnull=True, username__in=[a.username for a in ACCOUNTS]):
        agency = (
            city
            if staff.is_city_level
            else Agency.objects.filter(district_id=staff.district_id, level="district").first()
        )
        if agency is not None:
            staff_set_agency(actor="system:demo", staff=staff, agency=agency)
