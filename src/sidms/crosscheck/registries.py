"""The four partner registries: what each answer means (shared with the file variants) and HTTP adapters.

Wire protocols (see docs/crosscheck.md):

- 市场监管 `GET  {base}/v1/entities/{credit_code}` → {"credit_code", "name", "status", "registered_at"}
- 公安     `POST {base}/v1/identity/verify` with {"id_number", "name"} → {"match", "deceased"}
- 民政     `POST {base}/v1/persons/events` with {"id_number"} → {"deceased", "death_date", "marital_status"}
- 税务     `GET  {base}/v1/taxpayers/{credit_code}` → {"name", "status"}

An ID number is personal data, so it never travels in a URL (URLs end up in access logs of every proxy
and server on the way, and in httpx's own log line): civil affairs is asked by POST, like public
security. Credit codes identify units, are printed on every business licence, and may be in paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .base import (
    SUBJECT_CREDIT_CODE,
    SUBJECT_ID_NUMBER,
    SUBJECT_NAME,
    CheckResult,
    Status,
    Verdict,
    make_result,
    normalise_code,
    normalise_name,
    require,
)
from .http import HttpRegistryClient, Reason, RegistryUnavailable

MARKET_REGULATION = "market_regulation"
PUBLIC_SECURITY = "public_security"
CIVIL_AFFAIRS = "civil_affairs"
TAX = "tax"


@dataclass(frozen=True)
class RegistrySpec:
    name: str
    label: str  # Chinese, as the reviewer reads it
    label_en: str
    subject_key: str  # the subject field the registry is asked about
    key_label: str  # that field's Chinese name
    key_label_en: str


SPECS: Mapping[str, RegistrySpec] = {
    spec.name: spec
    for spec in (
        RegistrySpec(
            MARKET_REGULATION,
            "市场监管部门",
            "Market regulation",
            SUBJECT_CREDIT_CODE,
            "统一社会信用代码",
            "credit code",
        ),
        RegistrySpec(
            PUBLIC_SECURITY, "公安部门", "Public security", SUBJECT_ID_NUMBER, "公民身份号码", "ID number"
        ),
        RegistrySpec(
            CIVIL_AFFAIRS, "民政部门", "Civil affairs", SUBJECT_ID_NUMBER, "公民身份号码", "ID number"
        ),
        RegistrySpec(TAX, "税务部门", "Tax", SUBJECT_CREDIT_CODE, "统一社会信用代码", "credit code"),
    )
}

MARKET_ACTIVE_STATUS = "存续"
TAX_NORMAL_STATUS = "正常"


class BadReply(Exception):
    """An answer that parsed but does not have the documented shape."""


# ---------------------------------------------------------------------------------------------------
# Records: what a registry says, whichever way it was asked (HTTP answer or CSV extract row).


@dataclass(frozen=True)
class EntityRecord:
    """市场监管: one registered market entity."""

    credit_code: str
    name: str
    status: str  # 存续 | 注销 | 吊销 (other registry wordings are flagged for the reviewer)
    registered_at: str


@dataclass(frozen=True)
class IdentityAnswer:
    """公安: does the ID number belong to the name, and is the person deceased."""

    match: bool
    deceased: bool


@dataclass(frozen=True)
class PersonEvents:
    """民政: death and marriage registrations of one person."""

    deceased: bool
    death_date: str | None
    marital_status: str


@dataclass(frozen=True)
class TaxpayerRecord:
    """税务: one unit's tax registration."""

    name: str
    status: str  # 正常 | 非正常 | 注销


# ---------------------------------------------------------------------------------------------------
# Verdicts: what a record means for the reviewer. Shared by the HTTP and the file adapters.


def not_found_verdict(spec: RegistrySpec) -> Verdict:
    return Verdict(
        Status.NOT_FOUND,
        f"{spec.label}未查到该{spec.key_label}。",
        f"{spec.label_en} registry has no record of this {spec.key_label_en}.",
        {},
    )


def unavailable_verdict(spec: RegistrySpec, trouble: RegistryUnavailable) -> Verdict:
    return Verdict(
        Status.UNAVAILABLE,
        f"{spec.label}接口不可用：{trouble.detail}，未核查。",
        f"{spec.label_en} registry unavailable: {trouble.detail_en}; not verified.",
        {"reason": str(trouble.reason), "attempts": str(trouble.attempts)},
    )


def _name_differs(subject: Mapping[str, str], registered: str) -> str | None:
    """The subject's name if one was given and differs from the registered name."""
    claimed = subject.get(SUBJECT_NAME, "")
    if claimed.strip() and normalise_name(claimed) != normalise_name(registered):
        return claimed.strip()
    return None


def _judge_unit(
    spec: RegistrySpec,
    subject: Mapping[str, str],
    *,
    name: str,
    status: str,
    normal_status: str,
    status_word: tuple[str, str],
    meanings: Mapping[str, tuple[str, str]],
    facts: dict[str, str],
) -> Verdict:
    """Market regulation and tax judge a unit alike: a bad status flags it, a different name mismatches.

    Any status but the normal one is flagged, including wordings the protocol does not list: an
    unexpected status is for the reviewer to weigh, not for us to pass.
    """
    word_zh, word_en = status_word
    zh = [f"{spec.label}："]
    en = [f"{spec.label_en} registry:"]
    claimed = _name_differs(subject, name)
    flagged = status != normal_status
    if flagged:
        meaning_zh, meaning_en = meanings.get(status, (f"不是“{normal_status}”", f"not {normal_status!r}"))
        zh.append(f"{word_zh}为“{status}”，{meaning_zh}，请核实。")
        en.append(f" {word_en} is {status!r}: {meaning_en}; please check.")
    if claimed is not None:
        zh.append(f"登记名称为“{name}”，与申报名称“{claimed}”不一致。")
        en.append(f" registered name {name!r} differs from the declared {claimed!r}.")
    if not flagged and claimed is None:
        zh.append(f"登记名称“{name}”，{word_zh}为“{status}”，信息一致。")
        en.append(f" registered as {name!r}, {word_en} {status!r}; consistent.")
    if flagged:
        verdict = Status.FLAGGED
    elif claimed is not None:
        verdict = Status.MISMATCH
    else:
        verdict = Status.VERIFIED
    return Verdict(verdict, "".join(zh), "".join(en), facts)


def judge_market_regulation(subject: Mapping[str, str], record: EntityRecord) -> Verdict:
    facts = {"name": record.name, "status": record.status}
    if record.registered_at:
        facts["registered_at"] = record.registered_at
    return _judge_unit(
        SPECS[MARKET_REGULATION],
        subject,
        name=record.name,
        status=record.status,
        normal_status=MARKET_ACTIVE_STATUS,
        status_word=("登记状态", "registration status"),
        meanings={
            "注销": ("该单位已注销登记", "the unit is deregistered"),
            "吊销": ("该单位营业执照已被吊销", "its business licence is revoked"),
        },
        facts=facts,
    )


def judge_tax(subject: Mapping[str, str], record: TaxpayerRecord) -> Verdict:
    return _judge_unit(
        SPECS[TAX],
        subject,
        name=record.name,
        status=record.status,
        normal_status=TAX_NORMAL_STATUS,
        status_word=("纳税人状态", "taxpayer status"),
        meanings={
            "非正常": ("该单位为税务非正常户", "the unit is an abnormal taxpayer"),
            "注销": ("该单位税务登记已注销", "its tax registration is cancelled"),
        },
        facts={"name": record.name, "status": record.status},
    )


def judge_public_security(answer: IdentityAnswer) -> Verdict:
    spec = SPECS[PUBLIC_SECURITY]
    facts = {"match": _yes_no(answer.match), "deceased": _yes_no(answer.deceased)}
    if answer.match:
        zh, en = "公民身份号码与姓名相符", "ID number and name match"
    else:
        zh, en = "公民身份号码与姓名不符", "ID number and name do not match"
    if answer.deceased:
        return Verdict(
            Status.FLAGGED,
            f"{spec.label}：{zh}；该人员已登记死亡，请核实。",
            f"{spec.label_en} registry: {en}; the person is registered as deceased, please check.",
            facts,
        )
    if answer.match:
        return Verdict(Status.VERIFIED, f"{spec.label}：{zh}。", f"{spec.label_en} registry: {en}.", facts)
    return Verdict(Status.MISMATCH, f"{spec.label}：{zh}。", f"{spec.label_en} registry: {en}.", facts)


def judge_civil_affairs(events: PersonEvents) -> Verdict:
    spec = SPECS[CIVIL_AFFAIRS]
    facts = {"deceased": _yes_no(events.deceased), "marital_status": events.marital_status}
    if events.death_date:
        facts["death_date"] = events.death_date
    if events.deceased:
        when_zh = f"已于{events.death_date}死亡" if events.death_date else "已死亡（死亡日期未登记）"
        when_en = f"died on {events.death_date}" if events.death_date else "is deceased (date not recorded)"
        return Verdict(
            Status.FLAGGED,
            f"{spec.label}：该人员{when_zh}，请核实。",
            f"{spec.label_en} registry: the person {when_en}; please check.",
            facts,
        )
    marital_zh = f"婚姻状况：{events.marital_status}" if events.marital_status else "婚姻状况未登记"
    marital_en = f"marital status: {events.marital_status or 'not recorded'}"
    return Verdict(
        Status.VERIFIED,
        f"{spec.label}：无死亡登记；{marital_zh}。",
        f"{spec.label_en} registry: no death registered; {marital_en}.",
        facts,
    )


def _yes_no(flag: bool) -> str:
    return "true" if flag else "false"


# ---------------------------------------------------------------------------------------------------
# Reading JSON answers. A wrong shape is BadReply, which becomes UNAVAILABLE: never a guess.


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise BadReply("not a JSON object")
    return data


def _text(obj: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadReply(f"{key!r} missing or not text")
    return value.strip()


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise BadReply(f"{key!r} missing or not true/false")
    return value


# ---------------------------------------------------------------------------------------------------
# HTTP adapters.


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    body: Mapping[str, str] | None
    log_path: str


class _HttpRegistry:
    spec: RegistrySpec

    def __init__(self, client: HttpRegistryClient) -> None:
        self.client = client
        self.name = self.spec.name

    @property
    def source(self) -> str:
        return self.client.source

    def check(self, subject: Mapping[str, str]) -> CheckResult:
        call = self._call(normalise_code(require(subject, self.spec.subject_key)), subject)
        try:
            reply = self.client.request_json(
                call.method, call.path, json_body=call.body, log_path=call.log_path
            )
            if reply.status_code == 404:
                verdict = not_found_verdict(self.spec)
            elif reply.status_code != 200:
                raise RegistryUnavailable(Reason.REJECTED, f"HTTP {reply.status_code}", attempts=1)
            else:
                try:
                    verdict = self._judge(subject, reply.data)
                except BadReply as error:
                    raise RegistryUnavailable(Reason.BAD_REPLY, str(error), attempts=1) from error
        except RegistryUnavailable as trouble:
            verdict = unavailable_verdict(self.spec, trouble)
        return make_result(self.name, verdict, self.source)

    def _call(self, key: str, subject: Mapping[str, str]) -> _Call:
        raise NotImplementedError

    def _judge(self, subject: Mapping[str, str], data: Any) -> Verdict:
        raise NotImplementedError


class MarketRegulationRegistry(_HttpRegistry):
    """市场监管: `GET {base}/v1/entities/{credit_code}`."""

    spec = SPECS[MARKET_REGULATION]

    def _call(self, key: str, subject: Mapping[str, str]) -> _Call:
        return _Call("GET", f"/v1/entities/{quote(key, safe='')}", None, "/v1/entities/{credit_code}")

    def _judge(self, subject: Mapping[str, str], data: Any) -> Verdict:
        obj = _object(data)
        record = EntityRecord(
            credit_code=normalise_code(_text(obj, "credit_code")),
            name=_text(obj, "name"),
            status=_text(obj, "status"),
            registered_at=_text(obj, "registered_at", required=False),
        )
        if record.credit_code != normalise_code(subject[SUBJECT_CREDIT_CODE]):
            raise BadReply("answer is about another credit code")
        return judge_market_regulation(subject, record)


class PublicSecurityRegistry(_HttpRegistry):
    """公安: `POST {base}/v1/identity/verify` with {"id_number", "name"}: the ID number stays in the body."""

    spec = SPECS[PUBLIC_SECURITY]

    def _call(self, key: str, subject: Mapping[str, str]) -> _Call:
        body = {"id_number": key, "name": require(subject, SUBJECT_NAME).strip()}
        return _Call("POST", "/v1/identity/verify", body, "/v1/identity/verify")

    def _judge(self, subject: Mapping[str, str], data: Any) -> Verdict:
        obj = _object(data)
        return judge_public_security(
            IdentityAnswer(match=_flag(obj, "match"), deceased=_flag(obj, "deceased"))
        )


class CivilAffairsRegistry(_HttpRegistry):
    """民政: `POST {base}/v1/persons/events` with {"id_number"} (POST, not GET, to keep it out of URLs)."""

    spec = SPECS[CIVIL_AFFAIRS]

    def _call(self, key: str, subject: Mapping[str, str]) -> _Call:
        return _Call("POST", "/v1/persons/events", {"id_number": key}, "/v1/persons/events")

    def _judge(self, subject: Mapping[str, str], data: Any) -> Verdict:
        obj = _object(data)
        return judge_civil_affairs(
            PersonEvents(
                deceased=_flag(obj, "deceased"),
                death_date=_text(obj, "death_date", required=False) or None,
                marital_status=_text(obj, "marital_status", required=False),
            )
        )


class TaxRegistry(_HttpRegistry):
    """税务: `GET {base}/v1/taxpayers/{credit_code}`."""

    spec = SPECS[TAX]

    def _call(self, key: str, subject: Mapping[str, str]) -> _Call:
        return _Call("GET", f"/v1/taxpayers/{quote(key, safe='')}", None, "/v1/taxpayers/{credit_code}")

    def _judge(self, subject: Mapping[str, str], data: Any) -> Verdict:
        obj = _object(data)
        return judge_tax(subject, TaxpayerRecord(name=_text(obj, "name"), status=_text(obj, "status")))


HTTP_ADAPTERS: Mapping[str, type[_HttpRegistry]] = {
    MARKET_REGULATION: MarketRegulationRegistry,
    PUBLIC_SECURITY: PublicSecurityRegistry,
    CIVIL_AFFAIRS: CivilAffairsRegistry,
    TAX: TaxRegistry,
}
