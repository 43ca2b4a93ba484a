"""Cross-checks against CSV extracts a registry sends, for departments without an online interface.

An extract is read whole (UTF-8, with or without BOM, else GBK), indexed in memory by its key column,
and read again when the file changes (same path, new size or modification time), so an operator drops
in next month's extract without a restart. Answers are the same CheckResults as the HTTP adapters
give, with `source="file:<path>"` and the extract date in `facts["extract_date"]`. A missing or
unreadable file, or a malformed row, answers UNAVAILABLE: never a guess.

Column names, with the Chinese headers accepted for them, are documented in docs/crosscheck.md.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from .base import (
    SUBJECT_NAME,
    CheckResult,
    Status,
    Verdict,
    make_result,
    normalise_code,
    normalise_name,
    require,
)
from .registries import (
    CIVIL_AFFAIRS,
    MARKET_REGULATION,
    PUBLIC_SECURITY,
    SPECS,
    TAX,
    EntityRecord,
    IdentityAnswer,
    PersonEvents,
    RegistrySpec,
    TaxpayerRecord,
    judge_civil_affairs,
    judge_market_regulation,
    judge_public_security,
    judge_tax,
    not_found_verdict,
)

# Weihai's registries date their extracts in China Standard Time; a file written at 01:00 CST must not
# show yesterday's date.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

EXTRACT_DATE = "extract_date"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "是"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否"})


class ExtractUnavailable(Exception):
    def __init__(self, reason: str, detail: str, detail_en: str) -> None:
        self.reason = reason
        self.detail = detail
        self.detail_en = detail_en
        super().__init__(detail_en)


class BadRow(Exception):
    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class ExtractRow:
    line: int  # 1-based line in the file, the header being line 1
    values: Mapping[str, str]

    def text(self, column: str) -> str:
        value = self.values.get(column, "")
        if not value:
            raise BadRow(self.line, f"{column} is empty")
        return value

    def flag(self, column: str) -> bool:
        value = self.values.get(column, "").lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise BadRow(self.line, f"{column} is not one of 1/0, true/false, 是/否")


def _header_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def decode_extract(raw: bytes) -> tuple[str, str]:
    """The text and the encoding it was read in: UTF-8 first (a BOM is dropped), then GBK.

    GBK is read with Python's gb18030 codec, its superset, so a registry exporting in GB18030 also works.
    """
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gbk"
    except UnicodeDecodeError as error:
        raise ExtractUnavailable(
            "undecodable", "文件编码既不是UTF-8也不是GBK", "the file is neither UTF-8 nor GBK"
        ) from error


class CsvExtract:
    """One CSV extract indexed by its key column; thread-safe; reloaded when the file changes."""

    def __init__(self, path: str | os.PathLike[str], *, key: str, columns: Sequence[Column]) -> None:
        self.path = Path(path)
        self.key = key
        self.columns = tuple(columns)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._index: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        self._present: tuple[str, ...] = ()
        self.encoding = ""
        self.file_date = ""
        self.row_count = 0

    def lookup(self, key: str) -> tuple[list[ExtractRow], str]:
        """The rows for `key` (normalised like a code) and the file's extract date."""
        with self._lock:
            self._refresh()
            found = self._index.get(normalise_code(key), [])
            rows = [ExtractRow(line, dict(zip(self._present, values, strict=True))) for line, values in found]
            return rows, self.file_date

    def load(self) -> None:
        """Read the file now (e.g. at start-up) rather than at the first check."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except OSError as error:
            self._stamp = None
            self._index = {}
            raise ExtractUnavailable(
                "no_extract",
                f"找不到数据抽取文件（{self.path.name}）",
                f"no extract file at {self.path}",
            ) from error
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            raw = self.path.read_bytes()
        except OSError as error:
            raise ExtractUnavailable(
                "unreadable", f"数据抽取文件无法读取（{self.path.name}）", f"cannot read {self.path}"
            ) from error
        text, encoding = decode_extract(raw)
        present, index, count, stated_date = self._parse(text)
        self._present, self._index, self.row_count, self.encoding = present, index, count, encoding
        # The date the registry states wins; the file's own date is the fallback.
        self.file_date = (
            stated_date
            or datetime.fromtimestamp(stat.st_mtime, UTC).astimezone(CHINA_STANDARD_TIME).date().isoformat()
        )
        self._stamp = stamp

    def _parse(
        self, text: str
    ) -> tuple[tuple[str, ...], dict[str, list[tuple[int, tuple[str, ...]]]], int, str]:
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise ExtractUnavailable("empty", "数据抽取文件为空", "the extract is empty") from None
        except csv.Error as error:
            raise ExtractUnavailable(
                "malformed", "数据抽取文件格式有误", "the extract is not valid CSV"
            ) from error
        known = {
            _header_key(alias): column.name
            for column in self.columns
            for alias in (column.name, *column.aliases)
        }
        positions: dict[str, int] = {}
        for position, title in enumerate(header):
            name = known.get(_header_key(title))
            if name is not None and name not in positions:
                positions[name] = position
        missing = [column.name for column in self.columns if column.required and column.name not in positions]
        if missing:
            raise ExtractUnavailable(
                "missing_columns",
                f"数据抽取文件缺少列：{'、'.join(missing)}",
                f"the extract lacks column(s): {', '.join(missing)}",
            )
        present = tuple(positions)
        key_position = positions[self.key]
        index: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        count = 0
        date_position = positions.get(EXTRACT_DATE)
        stated_date = ""
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                key = normalise_code(row[key_position]) if key_position < len(row) else ""
                if not key:
                    continue
                values = tuple(
                    row[positions[name]].strip() if positions[name] < len(row) else "" for name in present
                )
                # Tuples, not dicts: an extract may hold hundreds of thousands of rows.
                index.setdefault(key, []).append((reader.line_num, values))
                count += 1
                if date_position is not None and date_position < len(row):
                    stated_date = max(stated_date, row[date_position].strip())  # ISO dates sort as text
        except csv.Error as error:
            raise ExtractUnavailable(
                "malformed",
                f"数据抽取文件第{reader.line_num}行格式有误",
                f"the extract is not valid CSV at line {reader.line_num}",
            ) from error
        return present, index, count, stated_date


class _FileRegistry:
    spec: RegistrySpec
    columns: Sequence[Column]

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.name = self.spec.name
        self.path = Path(path)
        self.source = f"file:{self.path}"
        self.extract = CsvExtract(self.path, key=self.spec.subject_key, columns=self.columns)

    def load(self) -> None:
        """Read the extract now; raises ExtractUnavailable if it cannot be used."""
        self.extract.load()

    def check(self, subject: Mapping[str, str]) -> CheckResult:
        key = require(subject, self.spec.subject_key)
        try:
            rows, file_date = self.extract.lookup(key)
        except ExtractUnavailable as trouble:
            return make_result(
                self.name, self._unavailable(trouble.reason, trouble.detail, trouble.detail_en), self.source
            )
        extract_date = file_date
        if not rows:
            verdict = not_found_verdict(self.spec)
        elif len({tuple(row.values.items()) for row in rows}) > 1:
            lines = "、".join(str(row.line) for row in rows)
            verdict = self._unavailable(
                "ambiguous",
                f"数据抽取文件中该{self.spec.key_label}有多条不同记录（第{lines}行）",
                f"the extract holds conflicting rows for this {self.spec.key_label_en} (lines {lines})",
            )
        else:
            row = rows[0]
            extract_date = row.values.get(EXTRACT_DATE) or file_date
            try:
                verdict = self._judge(subject, row)
            except BadRow as bad:
                verdict = self._unavailable(
                    "bad_row",
                    f"数据抽取文件第{bad.line}行内容有误",
                    f"line {bad.line} of the extract is malformed ({bad.problem})",
                )
        facts = {**verdict.facts, EXTRACT_DATE: extract_date}
        # The date goes into the detail too: the reviewer weighs a months-old extract differently.
        return make_result(
            self.name,
            Verdict(
                verdict.status,
                f"{verdict.detail}（依据{extract_date}数据抽取文件）",
                f"{verdict.detail_en} (per the extract of {extract_date})",
                facts,
            ),
            self.source,
        )

    def _unavailable(self, reason: str, detail: str, detail_en: str) -> Verdict:
        return Verdict(
            Status.UNAVAILABLE,
            f"{self.spec.label}：{detail}，未核查。",
            f"{self.spec.label_en}: {detail_en}; not verified.",
            {"reason": reason},
        )

    def _judge(self, subject: Mapping[str, str], row: ExtractRow) -> Verdict:
        raise NotImplementedError


_EXTRACT_DATE_COLUMN = Column(EXTRACT_DATE, ("抽取日期", "数据日期"), required=False)
_CREDIT_CODE_COLUMN = Column("credit_code", ("统一社会信用代码", "信用代码"))
_ID_NUMBER_COLUMN = Column("id_number", ("公民身份号码", "身份证号码", "身份证号"))


class MarketRegulationFileRegistry(_FileRegistry):
    spec = SPECS[MARKET_REGULATION]
    columns = (
        _CREDIT_CODE_COLUMN,
        Column("name", ("名称", "企业名称", "单位名称", "主体名称")),
        Column("status", ("登记状态", "状态")),
        Column("registered_at", ("成立日期", "登记日期"), required=False),
        _EXTRACT_DATE_COLUMN,
    )

    def _judge(self, subject: Mapping[str, str], row: ExtractRow) -> Verdict:
        record = EntityRecord(
            credit_code=normalise_code(row.text("credit_code")),
            name=row.text("name"),
            status=row.text("status"),
            registered_at=row.values.get("registered_at", ""),
        )
        return judge_market_regulation(subject, record)


class PublicSecurityFileRegistry(_FileRegistry):
    """The extract lists ID number, name and deceased flag; the name match is decided here."""

    spec = SPECS[PUBLIC_SECURITY]
    columns = (
        _ID_NUMBER_COLUMN,
        Column("name", ("姓名",)),
        Column("deceased", ("是否死亡", "死亡标志")),
        _EXTRACT_DATE_COLUMN,
    )

    def _judge(self, subject: Mapping[str, str], row: ExtractRow) -> Verdict:
        claimed = require(subject, SUBJECT_NAME)
        answer = IdentityAnswer(
            match=normalise_name(row.text("name")) == normalise_name(claimed),
            deceased=row.flag("deceased"),
        )
        return judge_public_security(answer)


class CivilAffairsFileRegistry(_FileRegistry):
    spec = SPECS[CIVIL_AFFAIRS]
    columns = (
        _ID_NUMBER_COLUMN,
        Column("deceased", ("是否死亡", "死亡标志")),
        Column("death_date", ("死亡日期",), required=False),
        Column("marital_status", ("婚姻状况",), required=False),
        _EXTRACT_DATE_COLUMN,
    )

    def _judge(self, subject: Mapping[str, str], row: ExtractRow) -> Verdict:
        events = PersonEvents(
            deceased=row.flag("deceased"),
            death_date=row.values.get("death_date") or None,
            marital_status=row.values.get("marital_status", ""),
        )
        return judge_civil_affairs(events)


class TaxFileRegistry(_FileRegistry):
    spec = SPECS[TAX]
    columns = (
        Column("credit_code", ("统一社会信用代码", "纳税人识别号", "信用代码")),
        Column("name", ("纳税人名称", "名称", "单位名称")),
        Column("status", ("纳税人状态", "状态")),
        _EXTRACT_DATE_COLUMN,
    )

    def _judge(self, subject: Mapping[str, str], row: ExtractRow) -> Verdict:
        return judge_tax(subject, TaxpayerRecord(name=row.text("name"), status=row.text("status")))


FILE_ADAPTERS: Mapping[str, type[_FileRegistry]] = {
    MARKET_REGULATION: MarketRegulationFileRegistry,
    PUBLIC_SECURITY: PublicSecurityFileRegistry,
    CIVIL_AFFAIRS: CivilAffairsFileRegistry,
    TAX: TaxFileRegistry,
}
