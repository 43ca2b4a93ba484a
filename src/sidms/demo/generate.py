"""Deterministic, realistic Weihai demo data: units, persons, employments, agencies, service institutions.

Everything here is pure Python (no Django) so that the same generator feeds the demo database, load
tests and the data-quality work. Design rules, each with its reason:

* **Deterministic.** Same arguments give the same records on any machine and any day: all randomness
  comes from ``random.Random`` instances seeded with strings (hashed with SHA-512 by the standard
  library, so ``PYTHONHASHSEED`` does not matter), and nothing reads the clock; ages are computed
  against ``anchor``. Faker is used only as a *word list* for names (its ``ssn()`` and date functions
  depend on ``date.today()``).
* **Streaming.** Units, agencies and service institutions are small lists; persons and their
  employments are produced one at a time by :func:`iter_person_rows`, so a million persons never sit in
  memory (the only per-person state kept is a set of issued ID bodies, to keep ID numbers unique).
* **Realistic.** Weihai districts, streets, postcodes and 0631 fixed lines; ID address codes that follow
  the county renamings (文登县 → 文登市 → 文登区 …) by the year the number was issued; credit codes
  with a valid embedded GB 11714 code; category-consistent birth dates; employment histories.
* **Anomalies on purpose.** A small, documented share of records is wrong in exactly one way
  (:data:`ANOMALIES`), and every such record says so in its ``anomalies`` tuple, so data-quality checks
  (R14) can be tested for both recall and precision. Everything without a tag passes the validators in
  :mod:`sidms.lib` and the stdnum/phonenumbers oracles.

``docs/demo-data.md`` documents the distributions, code lists and anomaly shares.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from typing import Generic, TypeVar

from faker.providers.person.zh_CN import Provider as _FakerPersonProvider

from sidms.lib import idcard, phone, uscc

__all__ = [
    "ANOMALIES",
    "ANOMALY_SHARES",
    "CATEGORIES",
    "DEFAULT_ANCHOR",
    "DEFAULT_SEED",
    "DISTRICTS",
    "ID_ADDRESS_CODES",
    "SERVICE_KINDS",
    "UNIT_TYPES",
    "AgencyRecord",
    "DemoData",
    "EmploymentRecord",
    "PersonRecord",
    "ServiceInstitutionRecord",
    "UnitRecord",
    "default_unit_count",
    "generate",
    "generate_agencies",
    "generate_service_institutions",
    "generate_units",
    "iter_person_rows",
    "iter_persons",
]

DEFAULT_SEED = 20261126
DEFAULT_ANCHOR = date(2026, 11, 1)


def _words(text: str) -> tuple[str, ...]:
    """Space-separated word list -> tuple (keeps the long Chinese lists readable, one line each)."""
    return tuple(text.split())


# --------------------------------------------------------------------------------------------------
# Code lists (the lead loads the same codes into the code tables)
# --------------------------------------------------------------------------------------------------

CATEGORIES: dict[str, str] = {
    "employee": "在职职工",
    "retiree": "离退休人员",
    "flexible": "灵活就业人员",
    "resident": "城乡居民",
    "land_lost_farmer": "失地农民",
    "dependant": "供养亲属",
    "proxy_recipient": "代发待遇人员",
}

UNIT_TYPES: dict[str, str] = {
    "enterprise": "企业",
    "government": "机关",
    "public_institution": "事业单位",
    "school": "学校",
    "social_org": "社会团体",
    "private_non_enterprise": "民办非企业单位",
    "individual_business": "个体工商户",
    "other": "其他组织",
}

SERVICE_KINDS: dict[str, str] = {
    "hrss_station": "人力资源和社会保障所/站",
    "medical": "定点医疗机构",
    "pharmacy": "定点零售药店",
    "rehab": "工伤康复机构",
    "bank": "合作金融机构",
}

ANOMALIES: dict[str, str] = {
    "bad_check_digit": "身份证号码校验码错误",
    "legacy15_duplicate": "同一人分别以15位旧号码和18位新号码重复登记",
    "sex_mismatch": "登记性别与身份证号码不符",
    "work_before_16": "参加工作时未满16周岁",
    "two_current_units": "同一时间在两个单位在职",
    "unit_org_check_bad": "统一社会信用代码中的组织机构代码校验码错误",
    "unit_name_variant": "同一统一社会信用代码以不同名称写法重复登记单位",
    "phone_invalid": "电话号码无效（号段不存在或位数不对）",
}

# Probability per generated person (draw) or unit. A legacy15_duplicate draw produces two records, both
# tagged, so about twice its share of person records carries that tag (and the duplicate *rate* in the
# R14 sense - extra copies / all records - is about its share).
ANOMALY_SHARES: dict[str, float] = {
    "bad_check_digit": 0.003,
    "legacy15_duplicate": 0.002,
    "sex_mismatch": 0.002,
    "work_before_16": 0.001,
    "two_current_units": 0.002,
    "phone_invalid": 0.003,  # of persons, and separately of units
    "unit_org_check_bad": 0.005,
    "unit_name_variant": 0.005,
}

_UNIT_ANOMALIES = ("unit_name_variant", "unit_org_check_bad", "phone_invalid")
_PERSON_ANOMALIES = _words(
    "bad_check_digit legacy15_duplicate sex_mismatch work_before_16 two_current_units phone_invalid"
)

# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitRecord:
    unit_no: str  # AAB001
    name: str  # AAB004
    credit_code: str  # GB 32100 unified social credit code
    org_code: str  # legacy GB 11714 code (9 characters, no dash) or ""
    unit_type: str  # key of UNIT_TYPES, derived from the credit code's authority and category
    district: str  # AAB301, one of DISTRICTS
    address: str
    postcode: str
    contact_person: str
    phone: str
    email: str
    industry_risk_class: str  # "1".."8" (work-injury industry risk class)
    anomalies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PersonRecord:
    person_no: str  # AAC001
    name: str
    id_number: str  # as recorded: 18 characters, or 15 for legacy records
    sex: str  # "1" male, "2" female (GB/T 2261.1)
    birth_date: date
    category: str  # key of CATEGORIES
    district: str  # insured-at district, one of DISTRICTS
    phone: str  # mobile or ""
    email: str
    address: str
    postcode: str
    bank_account: str  # 19-digit 金融社保卡 bank card number (Luhn) or ""
    anomalies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EmploymentRecord:
    person_no: str
    unit_no: str
    start_date: date
    end_date: date | None  # None while current
    anomalies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgencyRecord:
    code: str
    name: str
    district: str
    level: str  # "city" | "district"


@dataclass(frozen=True, slots=True)
class ServiceInstitutionRecord:
    code: str
    name: str
    kind: str  # key of SERVICE_KINDS
    district: str
    credit_code: str
    address: str
    phone: str


# --------------------------------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _District:
    code: str
    name: str  # official name
    addr: str  # how postal addresses begin
    admin: str  # prefix of government and public bodies
    short: str  # prefix of individual businesses, 民非 and district-level associations
    biz: tuple[str, ...]  # prefixes of company names
    id_parent: tuple[tuple[str, float], ...]  # Weihai county (era key) whose ID codes residents carry
    postcode: str
    phone_lead: str  # first digit of 0631 local numbers in this area
    weight: float  # share of persons and units
    streets: tuple[str, ...]
    roads: tuple[str, ...]
    industries: tuple[str, ...]  # typical industries, added (twice) to the common list


_GENERIC_ROADS = _words("建设路 人民路 新华路 幸福路 振华街 工业路 兴业路 渔港路 青年路 民生路 长安路 海港路")

# Streets and towns: 环翠区, 高区 and 经区 from the research notes; 文登, 荣成, 乳山 and 临港 agree across two
# independent public code sources (a Weihai HR application and a division-code table). Roads are
# plausible and partly real Weihai roads, but not placed street-accurately: this is not a gazetteer.
_DISTRICT_LIST: tuple[_District, ...] = (
    _District(
        code="371002",
        name="环翠区",
        addr="威海市环翠区",
        admin="威海市环翠区",
        short="威海市环翠区",
        biz=("威海", "威海市", "威海市环翠区"),
        id_parent=(("371002", 1.0),),
        postcode="264200",
        phone_lead="5",
        weight=0.28,
        streets=_words("环翠楼街道 鲸园街道 竹岛街道 孙家疃街道 嵩山街道 张村镇 羊亭镇 温泉镇"),
        roads=_words(
            "新威路 统一路 青岛北路 海滨北路 文化东路 昆明路 古寨东路 东城路 和平路 光明路 花园北路"
        ),
        industries=("旅游开发", "酒店管理", "信息技术", "服饰"),
    ),
    _District(
        code="371003",
        name="文登区",
        addr="威海市文登区",
        admin="威海市文登区",
        short="威海市文登区",
        biz=("威海市文登区", "威海文登", "文登"),
        id_parent=(("371003", 1.0),),
        postcode="264400",
        phone_lead="8",
        weight=0.18,
        streets=_words(
            "龙山路街道 天福路街道 环山路街道 文登营镇 大水泊镇 张家产镇 高村镇 泽库镇 侯家镇 "
            "宋村镇 泽头镇 小观镇 葛家镇 米山镇 界石镇"
        ),
        roads=("龙山路", "天福路", "环山路", "米山路", "昆嵛路", "世纪大道", "抱龙河路", "峰山路"),
        industries=("家纺", "工艺品", "汽车零部件", "纺织"),
    ),
    _District(
        code="371082",
        name="荣成市",
        addr="荣成市",
        admin="荣成市",
        short="荣成市",
        biz=("荣成市", "荣成"),
        id_parent=(("371082", 1.0),),
        postcode="264300",
        phone_lead="7",
        weight=0.22,
        streets=_words(
            "崖头街道 城西街道 宁津街道 港湾街道 桃园街道 王连街道 东山街道 斥山街道 寻山街道 "
            "崂山街道 俚岛镇 成山镇 埠柳镇 港西镇 夏庄镇 崖西镇 荫子镇 滕家镇 大疃镇 上庄镇 "
            "虎山镇 人和镇"
        ),
        roads=("成山大道", "黄海路", "樱花路", "观海路", "府前路", "寻山路", "港湾路", "崖头路"),
        industries=("水产", "海洋食品", "远洋渔业", "渔业", "船舶修造"),
    ),
    _District(
        code="371083",
        name="乳山市",
        addr="乳山市",
        admin="乳山市",
        short="乳山市",
        biz=("乳山市", "乳山"),
        id_parent=(("371083", 1.0),),
        postcode="264500",
        phone_lead="6",
        weight=0.12,
        streets=_words(
            "城区街道 夏村镇 乳山口镇 海阳所镇 白沙滩镇 大孤山镇 南黄镇 冯家镇 下初镇 午极镇 "
            "育黎镇 崖子镇 诸往镇 乳山寨镇 徐家镇"
        ),
        roads=("胜利街", "府前路", "青山路", "商业街", "金岭路", "乳山口路", "海阳所路", "育黎路"),
        industries=("黄金矿业", "食品", "纺织", "水产"),
    ),
    _District(
        code="371071",
        name="威海火炬高技术产业开发区",
        addr="威海市高区",
        admin="威海火炬高技术产业开发区",
        short="威海高区",
        biz=("威海", "威海市"),
        id_parent=(("371002", 1.0),),
        postcode="264200",
        phone_lead="5",
        weight=0.08,
        streets=("怡园街道", "田和街道", "双岛街道", "初村镇"),
        roads=("文化西路", "火炬路", "沈阳路", "双岛路", "初村路", "科技路", "学府路"),
        industries=("信息技术", "软件", "电子", "医疗器械", "网络科技"),
    ),
    _District(
        code="371072",
        name="威海经济技术开发区",
        addr="威海市经区",
        admin="威海经济技术开发区",
        short="威海经区",
        biz=("威海", "威海市"),
        id_parent=(("371002", 1.0),),
        postcode="264200",
        phone_lead="5",
        weight=0.09,
        streets=("皇冠街道", "凤林街道", "西苑街道", "崮山镇", "泊于镇"),
        roads=("青岛中路", "海南路", "齐鲁大道", "香港路", "大庆路", "珠海路", "崮山路", "泊于路"),
        industries=("电子", "进出口", "机械", "塑料制品"),
    ),
    _District(
        code="371073",
        name="威海临港经济技术开发区",
        addr="威海市临港区",
        admin="威海临港经济技术开发区",
        short="威海临港区",
        biz=("威海", "威海临港"),
        # 临港区 was formed from towns of both 环翠区 and 文登 [U]; residents carry either county's codes.
        id_parent=(("371002", 0.7), ("371003", 0.3)),
        postcode="264200",
        phone_lead="5",
        weight=0.03,
        streets=("草庙子镇", "汪疃镇", "蔄山镇", "黄岚街道"),
        roads=("临港大道", "草庙子路", "汪疃路", "黄岚路", "蔄山路"),
        industries=("机械", "物流", "建材", "橡胶制品"),
    ),
)
_DISTRICTS: dict[str, _District] = {d.code: d for d in _DISTRICT_LIST}
DISTRICTS: dict[str, str] = {d.code: d.name for d in _DISTRICT_LIST}
_CITY_DIVISION = "371000"
_ZONES = frozenset({"371071", "371072", "371073"})

# ID address codes by issue year, per Weihai county: (first year valid, code). Only the codes in the
# research notes §3 are used; pre-1987 烟台-era codes (3706xx) are not, so numbers issued 1985-1986 carry
# the 1987 code, a documented simplification.
_WEIHAI_ID_ERAS: dict[str, tuple[tuple[int, str], ...]] = {
    "371002": ((0, "371002"),),
    "371003": ((0, "371022"), (1989, "371081"), (2014, "371003")),
    "371082": ((0, "371023"), (1989, "371082")),
    "371083": ((0, "371021"), (1993, "371083")),
}
_WEIHAI_PARENTS = tuple(_WEIHAI_ID_ERAS)

# Codes for people registered outside Weihai: (code, name, first valid year, weight). Names and years
# checked against python-stdnum's cn/loc.dat (GB/T 2260 history); weighted towards Shandong and the
# north-east, where most of Weihai's in-migrants come from.
_FOREIGN_ID_CODES: tuple[tuple[str, str, int, float], ...] = (
    ("370602", "山东省烟台市芝罘区", 1983, 5.0),
    ("370683", "山东省烟台市莱州市", 1989, 2.0),
    ("370102", "山东省济南市历下区", 1983, 2.0),
    ("370202", "山东省青岛市市南区", 1983, 2.0),
    ("370203", "山东省青岛市市北区", 1983, 1.5),
    ("370305", "山东省淄博市临淄区", 1983, 1.0),
    ("370702", "山东省潍坊市潍城区", 1983, 1.5),
    ("370782", "山东省潍坊市诸城市", 1989, 1.0),
    ("371302", "山东省临沂市兰山区", 1994, 2.0),
    ("230103", "黑龙江省哈尔滨市南岗区", 1983, 2.0),
    ("220102", "吉林省长春市南关区", 1983, 1.0),
    ("210102", "辽宁省沈阳市和平区", 1983, 1.0),
    ("110105", "北京市朝阳区", 1983, 0.5),
    ("120101", "天津市和平区", 1983, 0.5),
    ("130102", "河北省石家庄市长安区", 1983, 0.5),
    ("410102", "河南省郑州市中原区", 1983, 1.0),
    ("320102", "江苏省南京市玄武区", 1983, 0.3),
    ("310104", "上海市徐汇区", 1983, 0.3),
)

ID_ADDRESS_CODES: dict[str, str] = {
    "371002": "山东省威海市环翠区",
    "371003": "山东省威海市文登区",
    "371081": "山东省文登市（1989–2014）",
    "371022": "山东省文登县（1987–1988）",
    "371082": "山东省荣成市",
    "371023": "山东省荣成县（1987–1988）",
    "371083": "山东省乳山市",
    "371021": "山东省乳山县（1987–1993）",
    **{code: name for code, name, _, _ in _FOREIGN_ID_CODES},
}

# --------------------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------------------

# Faker's weights underrate Jiaodong surnames (于 gets 0.007 %, though it is among Weihai's most common);
# these approximate local frequencies in the same percent scale.
_SURNAME_OVERRIDES = {
    "于": 1.6,
    "丛": 0.5,
    "毕": 0.4,
    "谷": 0.3,
    "鞠": 0.5,
    "隋": 0.3,
    "宫": 0.3,
    "姜": 1.0,
    "曲": 0.4,
    "林": 1.5,
    "孙": 2.0,
}
# Generation characters that combine with Faker's one-character given names into common two-character
# names (志+强, 秀+芳, 晓+燕 …); most people born after 1950 have two-character given names.
_MALE_LEADS = "建志国海振德明永文立俊子浩宏家晓春庆学"
_FEMALE_LEADS = "秀玉春美晓丽淑雅欣佳雪海红艳慧静思梦"

_ZIHAO_FIRST = "华鑫海金恒宏盛泰瑞祥丰达东新远鸿嘉润和信安康永兴明广福荣博正天宇中银蓝晟昊凯锦誉卓鼎汇聚德佳"
_ZIHAO_SECOND = "海源泰达盛通鑫华丰祥瑞利宇成安德信诚远航洋辉润邦建业兴隆昌博嘉和茂涛升创能科晨阳光"
_ZIHAO_EXTRA = ("海之蓝", "金海湾", "蓝天", "华夏", "远洋", "东方", "海洋之星", "银滩", "石岛湾", "成山头")

# Approximate work-injury industry risk classes in the spirit of 人社部发〔2015〕71号 (1 lowest, 8 highest).
_INDUSTRY_RISK: dict[str, str] = {
    industry: risk_class
    for risk_class, industries in (
        ("1", "科技 信息技术 软件 网络科技 电子商务 商贸 贸易 进出口 文化传媒 广告 企业管理咨询 人力资源"),
        ("2", "餐饮管理 酒店管理 房地产开发 物业管理 旅游开发"),
        ("3", "食品 海洋食品 服饰 纺织 家纺 工艺品"),
        ("4", "机械 医疗器械 汽车零部件 电子 橡胶制品 印刷 塑料制品"),
        ("5", "水产 建材 物流"),
        ("6", "建筑工程 建筑安装 船舶修造"),
        ("7", "渔业 远洋渔业"),
        ("8", "黄金矿业"),
    )
    for industry in industries.split()
}
_COMMON_INDUSTRIES = _words(
    "科技 商贸 贸易 进出口 建筑工程 建筑安装 餐饮管理 物业管理 房地产开发 食品 机械 物流 "
    "电子商务 文化传媒 企业管理咨询 人力资源 广告 建材 汽车零部件 印刷"
)
_COMPANY_FORMS = (("有限公司", 0.80), ("有限责任公司", 0.10), ("股份有限公司", 0.06), ("集团有限公司", 0.04))
_SHOP_KINDS = (
    ("便利店", "1"),
    ("超市", "1"),
    ("饭店", "2"),
    ("海鲜馆", "2"),
    ("水饺馆", "2"),
    ("理发店", "1"),
    ("烟酒店", "1"),
    ("五金店", "1"),
    ("汽车修理部", "3"),
    ("建材经营部", "1"),
    ("服装店", "1"),
    ("水果店", "1"),
    ("门窗加工部", "4"),
    ("干洗店", "1"),
    ("家电维修部", "2"),
    ("渔具店", "1"),
    ("海产品商行", "1"),
)
_COOP_PRODUCTS = {
    "371002": ("蔬菜种植", "樱桃种植", "苹果种植", "无花果种植"),
    "371003": ("西洋参种植", "苹果种植", "花生种植", "蔬菜种植"),
    "371082": ("海参养殖", "海带养殖", "苹果种植", "花生种植"),
    "371083": ("牡蛎养殖", "茶叶种植", "苹果种植", "葡萄种植"),
    "371073": ("蔬菜种植", "苹果种植", "花生种植"),
}
_GOV_DEPTS = _words(
    "发展和改革局 教育和体育局 科学技术局 工业和信息化局 民政局 司法局 财政局 "
    "人力资源和社会保障局 自然资源和规划局 住房和城乡建设局 交通运输局 农业农村局 商务局 "
    "文化和旅游局 卫生健康局 退役军人事务局 应急管理局 审计局 市场监督管理局 统计局 "
    "医疗保障局 行政审批服务局 综合行政执法局 水务局 海洋发展局"
)
_ZONE_DEPTS = ("管理委员会", "财政金融局", "经济发展局", "社会事业局", "规划建设局", "综合行政执法局")
_PUBLIC_INSTS = _words(
    "图书馆 文化馆 档案馆 博物馆 公证处 融媒体中心 不动产登记中心 公共就业和人才服务中心 "
    "农业技术推广中心 水利事业服务中心 林业保护发展中心 机关事务服务中心 退役军人服务中心 "
    "城市管理服务中心 综合检验检测中心 住房保障服务中心 园林绿化服务中心 社会福利中心 "
    "救助管理站 疾病预防控制中心"
)
_ASSOC_TRADES = _words(
    "个体劳动者 私营企业 水产品加工 渔业 建筑业 物流 餐饮 旅游 摄影家 书法家 美术家 作家 "
    "律师 注册会计师 老年体育 篮球 足球 围棋 钓鱼 企业家 青年企业家 女企业家 软件行业 "
    "电子商务 家纺 果品 海参 养老服务 物业管理 汽车行业 护理 志愿者"
)
_CHAMBER_ORIGINS = _words("温州 福建 浙江 河南 安徽 江苏 东北 潮汕 四川 湖南 临沂 潍坊")
_NONPROFIT_KINDS = _words(
    "幼儿园 养老院 颐养院 老年公寓 职业培训学校 艺术培训学校 社会工作服务中心 康复中心 "
    "托育中心 文化艺术中心 体育俱乐部"
)
_ESTATE_SUFFIXES = ("小区", "花园", "家园", "苑", "新村", "公寓", "嘉园")
_VILLAGE_SUFFIXES = ("", "疃", "泊", "庄", "夼", "沟", "岭")

# (prefix, weight): only prefixes phonenumbers 9.0.43 accepts for all eight following digits (checked
# empirically, research notes §6). 149 is refused by phonenumbers' CN metadata, which is what the
# phone_invalid anomaly uses.
_MOBILE_PREFIXES: tuple[tuple[str, float], ...] = tuple(
    (prefix, float(weight))
    for prefix, weight in (
        item.split(":")
        for item in _words(
            "139:5 138:5 137:4 136:4 135:4 134:3 133:2 132:2 131:2 130:2 150:3 151:3 152:3 153:2 155:2 "
            "156:2 157:1 158:3 159:3 147:0.3 166:1 173:1 175:1 176:1 177:1 178:1 180:2 181:1 182:2 "
            "183:2 184:1 185:2 186:2 187:2 188:2 189:2 191:0.5 195:0.5 198:0.5 199:0.5"
        )
    )
)
# Issuer prefixes of 19-digit debit cards of the big banks that issue 金融社保卡 in Weihai (ICBC, CCB,
# ABC, BOC, BoCom). Plausible, not checked against a BIN registry.
_BANK_BINS = ("622202", "621700", "622848", "621661", "622262")
_EMAIL_DOMAINS = (("qq.com", 0.5), ("163.com", 0.3), ("126.com", 0.15), ("sina.com", 0.05))

_CN_NUMERALS = "一二三四五六七八九十"


def _cn_number(n: int) -> str:
    """1..99 in Chinese numerals (第十一中学, 第二十三中学)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _CN_NUMERALS[tens - 1] + "十")
    return head + (_CN_NUMERALS[ones - 1] if ones else "")


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> random.Random:
    # One independent stream per entity family, so that e.g. changing the number of persons never
    # changes the units, and the agencies never change at all.
    return random.Random(f"sidms-demo:{seed}:{stream}")  # noqa: S311 - demo data, not security


def _cumulative(weights: Iterable[float]) -> tuple[list[float], float]:
    cum = list(accumulate(weights))
    return cum, cum[-1]


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


_LUHN_PLAIN = {str(d): d for d in range(10)}.__getitem__
_LUHN_DOUBLED = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}.__getitem__


def _luhn_digit(body: str) -> str:
    """The Luhn check digit to append to ``body`` (the rightmost body digit is doubled)."""
    total = sum(map(_LUHN_DOUBLED, body[::-2])) + sum(map(_LUHN_PLAIN, body[-2::-2]))
    return str(-total % 10)


def _is_valid_phone(text: str) -> bool:
    try:
        phone.parse(text)
    except phone.InvalidPhone:
        return False
    return True


class _Names:
    """Chinese personal names sampled from Faker's zh_CN word lists with our own RNG.

    Calling Faker per person would be slow (~20 µs) and would need a Faker instance; its lists plus a
    seeded ``random.Random`` give the same realism deterministically at well under a microsecond.
    """

    def __init__(self) -> None:
        surnames = dict(_FakerPersonProvider.last_names)
        surnames.update(_SURNAME_OVERRIDES)
        self.surnames = tuple(surnames)
        self.surname_cum, self.surname_total = _cumulative(surnames.values())
        male_single = tuple(n for n in _FakerPersonProvider.first_names_male if len(n) == 1)
        female_single = tuple(n for n in _FakerPersonProvider.first_names_female if len(n) == 1)
        self.male = self._given(_FakerPersonProvider.first_names_male, male_single, _MALE_LEADS)
        self.female = self._given(_FakerPersonProvider.first_names_female, female_single, _FEMALE_LEADS)

    @staticmethod
    def _given(faker_names: Sequence[str], singles: Sequence[str], leads: str) -> tuple[str, ...]:
        # About a fifth one-character names, the rest two-character (Faker's own and lead + single).
        combined = [lead + s for lead in leads for s in singles if lead != s]
        two = [n for n in faker_names if len(n) == 2]
        pool = list(singles) * max(1, len(combined) // (4 * len(singles))) + two * 4 + combined
        return tuple(pool)

    def surname(self, r: Callable[[], float]) -> str:
        return self.surnames[bisect(self.surname_cum, r() * self.surname_total)]

    def name(self, r: Callable[[], float], male: bool) -> str:
        pool = self.male if male else self.female
        return self.surname(r) + pool[int(r() * len(pool))]


_NAMES = _Names()


def _zihao(r: Callable[[], float]) -> str:
    """A trade name (字号) such as 鑫源, 海润, 金海湾."""
    if r() < 0.05:
        return _ZIHAO_EXTRA[int(r() * len(_ZIHAO_EXTRA))]
    first = _ZIHAO_FIRST[int(r() * len(_ZIHAO_FIRST))]
    second = _ZIHAO_SECOND[int(r() * len(_ZIHAO_SECOND))]
    return first + second if first != second else first + "源"


def _mobile(r: Callable[[], float], cum: list[float], total: float) -> str:
    prefix = _MOBILE_PREFIXES[bisect(cum, r() * total)][0]
    return f"{prefix}{int(r() * 100_000_000):08d}"


def _fixed_line(r: Callable[[], float], district: _District) -> str:
    # Weihai local numbers have 7 digits starting 2-9; the lead digit follows the area's exchange.
    return f"0631-{district.phone_lead}{int(r() * 1_000_000):06d}"


def _invalid_mobile(r: Callable[[], float], cum: list[float], total: float) -> str:
    """A mobile-looking number that no validator accepts: prefix 149, or one digit short."""
    while True:
        candidate = f"149{int(r() * 100_000_000):08d}" if r() < 0.5 else _mobile(r, cum, total)[:10]
        # phonenumbers could in principle accept a 10-digit string as some other number type; only
        # strings our validator refuses qualify, so the anomaly fails exactly the phone check.
        if not _is_valid_phone(candidate):
            return candidate


def _street_address(r: Callable[[], float], district: _District) -> str:
    """A business address: district, street or town, road, number."""
    street = district.streets[int(r() * len(district.streets))]
    roads = district.roads if r() < 0.7 else _GENERIC_ROADS
    return f"{district.addr}{street}{roads[int(r() * len(roads))]}{1 + int(r() * 400)}号"


class _Places:
    """Fixed residential places of one district: estates (小区) on roads, and villages in towns.

    People cluster in a limited set of estates and villages, as they do in reality, and picking a
    prebuilt prefix is several times cheaper than composing every address from parts.
    """

    def __init__(self, r: Callable[[], float], district: _District) -> None:
        estates: list[str] = []
        villages: list[str] = []
        for street in district.streets:
            for _ in range(25):
                roads = district.roads if r() < 0.7 else _GENERIC_ROADS
                road = roads[int(r() * len(roads))]
                estate = _zihao(r) + _ESTATE_SUFFIXES[int(r() * len(_ESTATE_SUFFIXES))]
                estates.append(f"{district.addr}{street}{road}{1 + int(r() * 400)}号{estate}")
            if street.endswith("镇"):
                for _ in range(20):
                    suffix = _VILLAGE_SUFFIXES[int(r() * len(_VILLAGE_SUFFIXES))]
                    villages.append(f"{district.addr}{street}{_NAMES.surname(r)}家{suffix}村")
        self.estates = tuple(estates)
        self.villages = tuple(villages)
        # Rural districts (many towns) get more village addresses: about 30 % city-wide.
        self.village_share = len(villages) / (len(villages) + len(estates))

    def address(self, r: Callable[[], float]) -> str:
        if r() < self.village_share:
            return self.villages[int(r() * len(self.villages))] + _NUMBERS[1 + int(r() * 300)] + "号"
        return (
            self.estates[int(r() * len(self.estates))]
            + _NUMBERS[1 + int(r() * 30)]
            + "号楼"
            + _NUMBERS[1 + int(r() * 4)]
            + "单元"
            + _NUMBERS[1 + int(r() * 18)]
            + "0"
            + _NUMBERS[1 + int(r() * 4)]
            + "室"
        )


_NUMBERS = tuple(str(i) for i in range(1000))


# --------------------------------------------------------------------------------------------------
# Credit codes
# --------------------------------------------------------------------------------------------------

_MA_SERIES = ("MA3", "MA3", "MA3", "MA3", "MA7", "MA9", "MAC", "MAD")


def _org_body(r: Callable[[], float], old_lead: str | None) -> str:
    """An 8-character GB 11714 body.

    Codes issued before the 2015 switch to credit codes are numeric: ``old_lead`` gives their first
    digits (public bodies' typically begin 00; units and service institutions use disjoint leads so
    that the two independently generated sets can never share an organisation code). Codes created
    with a credit code since then (``old_lead=None``) are "MA" plus a series character ("MA3…" is the
    common Shandong series) and 5 characters of the credit-code alphabet.
    """
    if old_lead is not None:
        width = 8 - len(old_lead)
        return old_lead + f"{int(r() * 10**width):0{width}d}"
    series = _MA_SERIES[int(r() * len(_MA_SERIES))]
    alphabet = uscc.ALPHABET
    return series + "".join(alphabet[int(r() * len(alphabet))] for _ in range(5))


def _credit_code(
    r: Callable[[], float], prefix: str, division: str, old_lead: str | None, *, bad_org: bool = False
) -> tuple[str, str]:
    """Return (credit code, embedded 9-character org code)."""
    body8 = _org_body(r, old_lead)
    check9 = uscc.org_check_char(body8)
    if bad_org:
        # Only the inner GB 11714 check is broken: the outer GB 32100 character is computed over the
        # broken text, so the code looks perfectly formed and passes stdnum.
        wrong = [c for c in "0123456789X" if c != check9]
        check9 = wrong[int(r() * len(wrong))]
    body17 = prefix + division + body8 + check9
    return body17 + uscc.check_char(body17), body8 + check9


# --------------------------------------------------------------------------------------------------
# Agencies and service institutions (fixed sets, independent of the person count)
# --------------------------------------------------------------------------------------------------


def generate_agencies() -> list[AgencyRecord]:
    """One city-level social-insurance agency and one per district (R2.1 agencies)."""
    agencies = [AgencyRecord(code="SB371000", name="威海市社会保险事业中心", district="371002", level="city")]
    for d in _DISTRICT_LIST:
        agencies.append(
            AgencyRecord(
                code=f"SB{d.code}", name=f"{d.admin}社会保险事业中心", district=d.code, level="district"
            )
        )
    return agencies


_BANKS = _words(
    "中国工商银行股份有限公司威海分行 中国农业银行股份有限公司威海分行 "
    "中国银行股份有限公司威海分行 中国建设银行股份有限公司威海分行 "
    "交通银行股份有限公司威海分行 中国邮政储蓄银行股份有限公司威海市分行 "
    "威海银行股份有限公司"
)


def generate_service_institutions(*, seed: int = DEFAULT_SEED) -> list[ServiceInstitutionRecord]:
    """HR-and-social-security stations, designated medical institutions and pharmacies, work-injury
    rehabilitation institutions and cooperating banks (R2.1 service units).

    Names of banks are the real Weihai branches; all credit codes are synthetic.
    """
    rng = _rng(seed, "service")
    r = rng.random
    used_codes: set[str] = set()
    out: list[ServiceInstitutionRecord] = []

    def credit(prefix: str, division: str, *, public: bool) -> str:
        while True:
            # Leads 000 and 6 are reserved for service institutions (see _org_body).
            code, _ = _credit_code(r, prefix, division, "000" if public else "6")
            if code not in used_codes:
                used_codes.add(code)
                return code

    def add(code: str, name: str, kind: str, d: _District, prefix: str, public: bool) -> None:
        division = d.code if d.code not in _ZONES else _CITY_DIVISION
        out.append(
            ServiceInstitutionRecord(
                code=code,
                name=name,
                kind=kind,
                district=d.code,
                credit_code=credit(prefix, division, public=public),
                address=_street_address(r, d),
                phone=_fixed_line(r, d),
            )
        )

    for d in _DISTRICT_LIST:
        for i, street in enumerate(d.streets, start=1):
            suffix = "人力资源和社会保障所" if street.endswith("镇") else "人力资源和社会保障服务站"
            add(f"RS{d.code}{i:03d}", f"{d.admin}{street}{suffix}", "hrss_station", d, "12", True)

    # Designated medical institutions carry the national medical-insurance code pattern H + division + 5
    # digits; pharmacies P + division + 5 digits.
    city = _DISTRICTS["371002"]
    hospitals: list[tuple[_District, str, str, bool]] = [
        (city, "威海市立医院", "12", True),
        (city, "威海市中心医院", "12", True),
        (city, "威海市中医院", "12", True),
        (city, "威海市妇幼保健院", "12", True),
    ]
    for d in _DISTRICT_LIST:
        if d.code in ("371003", "371082", "371083"):
            hospitals += [(d, f"{d.admin}人民医院", "12", True), (d, f"{d.admin}中医院", "12", True)]
        for street in d.streets:
            kind = "卫生院" if street.endswith("镇") else "社区卫生服务中心"
            hospitals.append((d, f"{d.admin}{street}{kind}", "12", True))
        for _ in range(2):
            hospitals.append((d, f"{d.short}{_zihao(r)}{'口腔门诊部' if r() < 0.5 else '诊所'}", "91", False))
    seen: set[str] = set()
    seq: dict[str, int] = {}
    for d, name, prefix, public in hospitals:
        if name in seen:
            continue
        seen.add(name)
        seq[d.code] = seq.get(d.code, 0) + 1
        add(f"H{d.code}{seq[d.code]:05d}", name, "medical", d, prefix, public)

    for d in _DISTRICT_LIST:
        for i in range(1, 5):
            if r() < 0.5:
                name = f"{d.biz[0]}{_zihao(r)}大药房有限公司"
            else:
                name = f"威海{_zihao(r)}医药连锁有限公司{d.streets[int(r() * len(d.streets))]}店"
            if name in seen:
                continue
            seen.add(name)
            add(f"P{d.code}{i:05d}", name, "pharmacy", d, "91", False)

    for i, d in enumerate((_DISTRICTS["371002"], _DISTRICTS["371082"]), start=1):
        add(f"H{d.code}9{i:04d}", f"{d.biz[0]}{_zihao(r)}康复医院", "rehab", d, "91", False)

    for i, bank in enumerate(_BANKS, start=1):
        add(f"YH371000{i:03d}", bank, "bank", city, "91", False)
    return out


# --------------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------------

# (authority, category, unit type, share). The unit type follows from the credit code's first two
# characters (research notes §4 recommendation); 12 splits into schools and other public institutions.
_UNIT_MIX = (
    ("9", "1", "enterprise", 0.68),
    ("9", "2", "individual_business", 0.14),
    ("9", "3", "other", 0.02),  # 农民专业合作社
    ("1", "1", "government", 0.02),
    ("1", "2", "public_institution", 0.04),
    ("1", "2", "school", 0.03),
    ("5", "1", "social_org", 0.02),
    ("5", "2", "private_non_enterprise", 0.05),
)
# Relative head-count factors per unit type (multiplied by a Pareto draw), so employees cluster in
# large enterprises and public bodies and few work for individual businesses.
_SIZE_FACTOR = {
    "enterprise": 1.0,
    "individual_business": 0.1,
    "other": 0.2,
    "government": 2.0,
    "public_institution": 1.5,
    "school": 1.5,
    "social_org": 0.2,
    "private_non_enterprise": 0.4,
}


def default_unit_count(persons: int) -> int:
    """About one unit per 15 persons, at least 50."""
    return max(50, round(persons / 15))


def _pooled_names(rng: random.Random) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Finite name pools (there are only so many 财政局 and 第一中学), per (unit type, district).

    Entries are (name, credit-code division). When a pool is used up, further units of that type fall
    back to enterprises: real unit populations have a fixed number of public bodies too.
    """
    pools: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def put(kind: str, district: str, name: str, division: str) -> None:
        pools.setdefault((kind, district), []).append((name, division))

    for dept in _GOV_DEPTS:
        put("government", "371002", f"威海市{dept}", _CITY_DIVISION)
    for inst in _PUBLIC_INSTS:
        put("public_institution", "371002", f"威海市{inst}", _CITY_DIVISION)
    for n in range(1, 21):
        put("school", "371002", f"威海市第{_cn_number(n)}中学", _CITY_DIVISION)
    for trade in _ASSOC_TRADES:
        put("social_org", "371002", f"威海市{trade}协会", _CITY_DIVISION)
    for origin in _CHAMBER_ORIGINS:
        put("social_org", "371002", f"威海市{origin}商会", _CITY_DIVISION)

    for d in _DISTRICT_LIST:
        division = d.code if d.code not in _ZONES else _CITY_DIVISION
        zone = d.code in _ZONES
        for dept in _ZONE_DEPTS if zone else ("人民政府", *_GOV_DEPTS):
            put("government", d.code, f"{d.admin}{dept}", division)
        for street in d.streets:
            office = "办事处" if street.endswith("街道") else "人民政府"
            put("government", d.code, f"{d.admin}{street}{office}", division)
            if street.endswith("镇"):
                put("public_institution", d.code, f"{d.admin}{street}农业综合服务中心", division)
                put("school", d.code, f"{d.short}{street}中心小学", division)
                put("school", d.code, f"{d.short}{street}中学", division)
            else:
                put("school", d.code, f"{d.short}{street}小学", division)
            put("public_institution", d.code, f"{d.admin}{street}便民服务中心", division)
            put("school", d.code, f"{d.short}{street}中心幼儿园", division)
        if not zone:
            for inst in _PUBLIC_INSTS:
                put("public_institution", d.code, f"{d.admin}{inst}", division)
        for n in range(1, 13 if not zone else 4):
            put("school", d.code, f"{d.short}第{_cn_number(n)}中学", division)
            put("school", d.code, f"{d.short}第{_cn_number(n)}实验小学", division)
        put("school", d.code, f"{d.short}实验中学", division)
        for trade in _ASSOC_TRADES[: 12 if zone else len(_ASSOC_TRADES)]:
            put("social_org", d.code, f"{d.short}{trade}协会", division)
    for pool in pools.values():
        rng.shuffle(pool)
    return pools


def _name_variant(name: str, r: Callable[[], float]) -> str | None:
    """How the same unit gets typed differently at different windows."""
    options = []
    if "股份有限公司" in name:
        options.append(name.replace("股份有限公司", "股份公司"))
    elif "有限责任公司" in name:
        options.append(name.replace("有限责任公司", "有限公司"))
    elif "有限公司" in name:
        options.append(name.replace("有限公司", "有限责任公司"))
    if "（" in name:
        options.append(name.replace("（", "(").replace("）", ")"))
    if name.startswith("威海市文登区"):
        pass  # "威海文登区" is not a way anyone writes it
    elif name.startswith("威海市"):
        options.append("威海" + name[3:])
    elif name.startswith("威海") and not name.startswith("威海（"):
        options.append("威海市" + name[2:])
    for full, short in (("荣成市", "荣成"), ("乳山市", "乳山")):
        if name.startswith(full):
            options.append(short + name[len(full) :])
    return options[int(r() * len(options))] if options else None


@dataclass(frozen=True, slots=True)
class _UnitDraft:
    """What the type-specific naming step decides; codes and contact data are added afterwards."""

    name: str
    unit_type: str
    district: str
    industry_risk_class: str
    credit_prefix: str  # registration authority + entity category
    division: str  # registering authority's division code


def generate_units(*, count: int, seed: int = DEFAULT_SEED) -> list[UnitRecord]:
    """``count`` insured units (AAB001 ``3710000001`` …) with about 0.5 % of name variants and broken
    embedded org codes each, and 0.3 % invalid phones (see :data:`ANOMALY_SHARES`).
    """
    rng = _rng(seed, "units")
    r = rng.random
    pools = _pooled_names(rng)
    district_cum, district_total = _cumulative(d.weight for d in _DISTRICT_LIST)
    mix_cum, mix_total = _cumulative(m[3] for m in _UNIT_MIX)
    form_cum, form_total = _cumulative(f[1] for f in _COMPANY_FORMS)
    mobile_cum, mobile_total = _cumulative(p[1] for p in _MOBILE_PREFIXES)
    domain_cum, domain_total = _cumulative(d[1] for d in _EMAIL_DOMAINS)
    industries = {d.code: _COMMON_INDUSTRIES + d.industries * 2 for d in _DISTRICT_LIST}
    unit_anomaly_cum = list(accumulate(ANOMALY_SHARES[a] for a in _UNIT_ANOMALIES))

    names: set[str] = set()
    credit_codes: set[str] = set()
    org_bodies: set[str] = set()
    units: list[UnitRecord] = []
    # Indexes of clean enterprises that may still receive a name variant (each at most one).
    variant_sources: list[int] = []

    def division_for(d: _District) -> str:
        # Credit codes carry the registering authority's division: zones register with the city (or,
        # less often, 环翠区); 环翠区 units are sometimes registered at city level.
        if d.code in _ZONES:
            return _CITY_DIVISION if r() < 0.7 else "371002"
        if d.code == "371002" and r() < 0.2:
            return _CITY_DIVISION
        return d.code

    def enterprise(d: _District) -> _UnitDraft:
        industry = industries[d.code][int(r() * len(industries[d.code]))]
        form = _COMPANY_FORMS[bisect(form_cum, r() * form_total)][0]
        style = r()
        while True:
            if style < 0.05:
                name = f"{_zihao(r)}（威海）{industry}{form}"
            elif style < 0.10:
                name = f"山东{_zihao(r)}{industry}{form}"
            else:
                name = f"{d.biz[int(r() * len(d.biz))]}{_zihao(r)}{industry}{form}"
            if name not in names:
                break
        return _UnitDraft(name, "enterprise", d.code, _INDUSTRY_RISK[industry], "91", division_for(d))

    def draft_for(kind: str, d: _District) -> _UnitDraft | None:
        """A named unit of this kind in this district, or None when no (new) name is available."""
        if kind == "enterprise":
            return enterprise(d)
        if kind == "individual_business":
            for _ in range(20):
                shop, risk = _SHOP_KINDS[int(r() * len(_SHOP_KINDS))]
                owner = _NAMES.surname(r)
                trade = _zihao(r) if r() < 0.6 else (f"老{owner}" if r() < 0.5 else f"{owner}记")
                name = f"{d.short}{trade}{shop}"
                if name not in names:
                    return _UnitDraft(name, kind, d.code, risk, "92", division_for(d))
            return None
        if kind == "other":
            products = _COOP_PRODUCTS.get(d.code)
            if products is None:
                return None
            towns = [s for s in d.streets if s.endswith("镇")]
            for _ in range(20):
                town = towns[int(r() * len(towns))]
                product = products[int(r() * len(products))]
                name = f"{d.admin}{town}{_zihao(r)}{product}专业合作社"
                if name not in names:
                    return _UnitDraft(name, kind, d.code, "3", "93", division_for(d))
            return None
        if kind == "private_non_enterprise":
            for _ in range(20):
                name = f"{d.short}{_zihao(r)}{_NONPROFIT_KINDS[int(r() * len(_NONPROFIT_KINDS))]}"
                if name not in names:
                    return _UnitDraft(name, kind, d.code, "1", "52", division_for(d))
            return None
        # Pooled kinds: government 11, public institution / school 12, social organisation 51. City-level
        # bodies (威海市…) sit in 环翠区, the seat of the city government.
        pool = pools.get((kind, d.code))
        if not pool:
            return None
        name, division = pool.pop()
        prefix = {"government": "11", "public_institution": "12", "school": "12", "social_org": "51"}[kind]
        return _UnitDraft(name, kind, d.code, "1", prefix, division)

    for index in range(count):
        unit_no = f"3710{index + 1:06d}"
        roll = r()
        anomaly = _UNIT_ANOMALIES[bisect(unit_anomaly_cum, roll)] if roll < unit_anomaly_cum[-1] else None
        d = _DISTRICT_LIST[bisect(district_cum, r() * district_total)]

        if anomaly == "unit_name_variant":
            variant = None
            if variant_sources:
                source = units[variant_sources.pop(int(r() * len(variant_sources)))]
                variant = _name_variant(source.name, r)
            if variant is not None and variant not in names:
                # Registered again under another spelling: same credit code, new AAB001.
                names.add(variant)
                units.append(
                    UnitRecord(
                        unit_no=unit_no,
                        name=variant,
                        credit_code=source.credit_code,
                        org_code=source.org_code,
                        unit_type=source.unit_type,
                        district=source.district,
                        address=source.address,
                        postcode=source.postcode,
                        contact_person=_NAMES.name(r, r() < 0.5),
                        phone=_mobile(r, mobile_cum, mobile_total),
                        email="",
                        industry_risk_class=source.industry_risk_class,
                        anomalies=("unit_name_variant",),
                    )
                )
                continue
            anomaly = None  # nothing to vary yet: an ordinary unit instead
        bad_org = anomaly == "unit_org_check_bad"
        bad_phone = anomaly == "phone_invalid"

        kind = _UNIT_MIX[bisect(mix_cum, r() * mix_total)][2]
        draft = draft_for(kind, d) or enterprise(d)
        names.add(draft.name)
        unit_district = _DISTRICTS[draft.district]

        # Pre-2015 units have a numeric org code, and some records still carry it next to the credit
        # code; newer units only ever had the "MA…" code inside their credit code.
        prefix = draft.credit_prefix
        old = r() < {"11": 0.9, "12": 0.9, "51": 0.5, "91": 0.45}.get(prefix, 0.0)
        # Organisation codes are nationally unique, so the 8-character body must not repeat either
        # (two units sharing one would look like the name-variant duplicate).
        while True:
            lead = None
            if old:
                lead = "00" + "123456789"[int(r() * 9)] if prefix in ("11", "12") else "775513"[int(r() * 6)]
            code, org = _credit_code(r, prefix, draft.division, lead, bad_org=bad_org)
            if code not in credit_codes and org[:8] not in org_bodies:
                credit_codes.add(code)
                org_bodies.add(org[:8])
                break
        legacy_org = org if old and not bad_org and r() < 0.6 else ""

        if bad_phone:
            unit_phone = _invalid_mobile(r, mobile_cum, mobile_total)
        elif r() < 0.65:
            unit_phone = _fixed_line(r, unit_district)
        else:
            unit_phone = _mobile(r, mobile_cum, mobile_total)
        if r() < 0.6:
            domain = _EMAIL_DOMAINS[bisect(domain_cum, r() * domain_total)][0]
            local = f"{10_000 + int(r() * 2_000_000_000)}" if domain == "qq.com" else f"wh{unit_no[-6:]}"
            email = f"{local}@{domain}"
        else:
            email = ""

        anomalies = (anomaly,) if anomaly is not None else ()
        units.append(
            UnitRecord(
                unit_no=unit_no,
                name=draft.name,
                credit_code=code,
                org_code=legacy_org,
                unit_type=draft.unit_type,
                district=draft.district,
                address=_street_address(r, unit_district),
                postcode=unit_district.postcode,
                contact_person=_NAMES.name(r, r() < 0.5),
                phone=unit_phone,
                email=email,
                industry_risk_class=draft.industry_risk_class,
                anomalies=anomalies,
            )
        )
        if not anomalies and draft.unit_type == "enterprise":
            variant_sources.append(len(units) - 1)
    return units


# --------------------------------------------------------------------------------------------------
# Persons and employments
# --------------------------------------------------------------------------------------------------

_CATEGORY_MIX = (
    ("employee", 0.40),
    ("retiree", 0.19),
    ("flexible", 0.10),
    ("resident", 0.24),
    ("land_lost_farmer", 0.03),
    ("dependant", 0.02),
    ("proxy_recipient", 0.02),
)
_MALE_SHARE = {
    "employee": 0.55,
    "retiree": 0.47,
    "flexible": 0.52,
    "resident": 0.48,
    "land_lost_farmer": 0.50,
    "dependant": 0.35,
    "proxy_recipient": 0.40,
}
# Retirement dates are kept before the 2025 reform (gradual increase of the statutory ages), so that
# men retire at 60 and women at 50 (workers) or 55 (cadres) without month-by-month tables.
_RETIREMENT_REFORM = date(2025, 1, 1)
# Last year whose births could have held a first-generation (15-digit) card issued before 2000.
_LAST_LEGACY15_BIRTH = date(1983, 12, 31)
_ID_ALPHABET = "0123456789X"
_SIXTEEN_YEARS = 16 * 365 + 4  # days
# Records still under a 15-digit number (not an anomaly: the number is valid and converts): old people
# in categories whose records were created long ago and rarely touched since.
_LEGACY15_CATEGORIES = frozenset({"retiree", "proxy_recipient", "land_lost_farmer", "dependant"})
_LEGACY15_SHARE = 0.03


@dataclass(frozen=True, slots=True)
class _Window:
    lo: int  # earliest birth ordinal (oldest)
    hi: int  # latest birth ordinal (youngest)
    shape: str  # "uniform" | "middle" | "young"


def _window(anchor: date, min_age: int, max_age: int, shape: str, latest: date | None = None) -> _Window:
    """Birth ordinals for a full-year age in [min_age, max_age] at ``anchor``."""
    lo = _years_before(anchor, max_age + 1).toordinal() + 1
    hi = _years_before(anchor, min_age).toordinal()
    if latest is not None:
        hi = min(hi, latest.toordinal())
    return _Window(lo, hi, shape)


class _PersonFactory:
    """All per-run state of the person stream; :meth:`rows` yields records one person at a time."""

    def __init__(self, *, persons: int, units: Sequence[UnitRecord], seed: int, anchor: date) -> None:
        if persons < 0:
            raise ValueError("persons must not be negative")
        if not units:
            raise ValueError("persons need at least one unit to work for")
        self.count = persons
        self.units = units
        self.anchor = anchor
        self.anchor_ord = anchor.toordinal()
        self.rng = _rng(seed, "persons")
        unit_rng = _rng(seed, "unit-sizes")
        # Unit head-count weights (Pareto): few big employers, many small ones. Name variants get a
        # little weight too, as the duplicate record tends to collect a few misfiled employees.
        weights = []
        for u in units:
            w = unit_rng.paretovariate(1.3) * _SIZE_FACTOR[u.unit_type]
            weights.append(w * (0.1 if "unit_name_variant" in u.anomalies else 1.0))
        # No employer takes more than 1.5 % of all jobs (Weihai's largest groups employ about that share);
        # without the cap a single draw from the heavy tail would dominate small data sets.
        cap = 0.015 * sum(weights)
        self.unit_cum, self.unit_total = _cumulative(min(w, cap) for w in weights)
        self.category_cum, self.category_total = _cumulative(c[1] for c in _CATEGORY_MIX)
        self.district_cum, self.district_total = _cumulative(d.weight for d in _DISTRICT_LIST)
        self.mobile_cum, self.mobile_total = _cumulative(p[1] for p in _MOBILE_PREFIXES)
        self.foreign_cum, self.foreign_total = _cumulative(f[3] for f in _FOREIGN_ID_CODES)
        anomaly_weights = [ANOMALY_SHARES[a] for a in _PERSON_ANOMALIES]
        self.anomaly_cum = list(accumulate(anomaly_weights))
        self.issued: set[int] = set()
        place_rng = _rng(seed, "places")
        self.places = {d.code: _Places(place_rng.random, d) for d in _DISTRICT_LIST}

        cutoff = min(anchor, _RETIREMENT_REFORM)
        self.windows: dict[tuple[str, bool], _Window] = {
            ("employee", True): _window(anchor, 18, 59, "middle"),
            ("employee", False): _window(anchor, 18, 54, "middle"),
            ("flexible", True): _window(anchor, 18, 59, "middle"),
            ("flexible", False): _window(anchor, 18, 54, "middle"),
            ("resident", True): _window(anchor, 0, 90, "uniform"),
            ("resident", False): _window(anchor, 0, 90, "uniform"),
            ("land_lost_farmer", True): _window(anchor, 30, 90, "uniform"),
            ("land_lost_farmer", False): _window(anchor, 30, 90, "uniform"),
            ("proxy_recipient", True): _window(anchor, 55, 95, "uniform"),
            ("proxy_recipient", False): _window(anchor, 55, 95, "uniform"),
        }
        # Retirees: (sex, retirement age) -> window; retired before the reform and aged 55-90.
        self.retiree_windows: dict[tuple[bool, int], _Window] = {}
        for male, age in ((True, 60), (False, 50), (False, 55)):
            latest = date.fromordinal(_years_before(cutoff, age).toordinal() - 1)
            self.retiree_windows[(male, age)] = _window(anchor, 55, 90, "young", latest)
        self.dependant_windows = (_window(anchor, 0, 17, "uniform"), _window(anchor, 60, 90, "uniform"))

    # ---- small draws --------------------------------------------------------------------------------

    def _birth(self, window: _Window, latest_ord: int | None = None) -> int:
        r = self.rng.random
        hi = window.hi if latest_ord is None else min(window.hi, latest_ord)
        if window.shape == "middle":
            u = (r() + r()) / 2
        elif window.shape == "young":
            u = r() ** 1.8
        else:
            u = r()
        return hi - int(u * (hi - window.lo))

    def _id_address(self, district: _District, birth_year: int) -> str:
        r = self.rng.random
        # The number is issued at household registration for people born since 1990, otherwise with the
        # first card: mass issue 1985-1988, or at 16 for those younger.
        issue_year = birth_year if birth_year >= 1990 else max(1985 + int(r() * 4), birth_year + 16)
        roll = r()
        if roll < 0.10:
            while True:
                code, _, since, _ = _FOREIGN_ID_CODES[bisect(self.foreign_cum, r() * self.foreign_total)]
                if since <= issue_year:
                    return code
        if roll < 0.22:
            parent = _WEIHAI_PARENTS[int(r() * len(_WEIHAI_PARENTS))]
        elif len(district.id_parent) == 1:
            parent = district.id_parent[0][0]
        else:
            parent = district.id_parent[0][0] if r() < district.id_parent[0][1] else district.id_parent[1][0]
        code = ""
        for since, era_code in _WEIHAI_ID_ERAS[parent]:
            if since <= issue_year:
                code = era_code
        return code

    def _spells(self, t0: int, t1: int, n: int) -> list[tuple[int, int]]:
        """Split [t0, t1] into up to ``n`` consecutive spells of at least 30 days with short gaps."""
        r = self.rng.random
        if n <= 1 or t1 - t0 < 120:
            return [(t0, t1)]
        cuts = sorted(t0 + 30 + int(r() * (t1 - t0 - 60)) for _ in range(n - 1))
        spells = []
        start = t0
        for cut in cuts:
            if cut - start < 30:
                continue
            spells.append((start, cut))
            start = cut + 1 + int(r() * 120)
        if t1 - start < 30:
            if spells:
                spells[-1] = (spells[-1][0], t1)
            else:
                spells.append((t0, t1))
        else:
            spells.append((start, t1))
        return spells

    # ---- one person ------------------------------------------------------------------------------------

    def rows(self) -> Iterator[tuple[PersonRecord, tuple[EmploymentRecord, ...]]]:
        # Hot loop (a million iterations): module and attribute lookups are bound to locals.
        r = self.rng.random
        anchor_ord = self.anchor_ord
        units = self.units
        unit_cum, unit_total = self.unit_cum, self.unit_total
        anomaly_cum = self.anomaly_cum
        anomaly_total = anomaly_cum[-1]
        category_cum, category_total = self.category_cum, self.category_total
        district_cum, district_total = self.district_cum, self.district_total
        mobile_cum, mobile_total = self.mobile_cum, self.mobile_total
        issued = self.issued
        fromordinal = date.fromordinal
        check_digit = idcard.check_digit
        legacy_latest = _LAST_LEGACY15_BIRTH.toordinal()
        places = self.places
        # Birth ordinal -> (date, "YYYYMMDD"): a few tens of thousands of distinct days, looked up a
        # million times; formatting dates is one of the costlier steps otherwise.
        days: dict[int, tuple[date, str]] = {}

        def pick_unit(avoid: int = -1) -> int:
            # Weighted by head count; never the same unit twice in a row (that would be one spell).
            while True:
                u = bisect(unit_cum, r() * unit_total)
                if u != avoid or len(units) == 1:
                    return u

        serial = 0
        while serial < self.count:
            roll = r()
            anomaly = _PERSON_ANOMALIES[bisect(anomaly_cum, roll)] if roll < anomaly_total else None
            if anomaly == "legacy15_duplicate" and serial + 2 > self.count:
                anomaly = None  # no room for the pair at the very end

            # Category; anomalies that need a work history or an old person pick a compatible one.
            if anomaly is None or anomaly in ("bad_check_digit", "sex_mismatch", "phone_invalid"):
                category = _CATEGORY_MIX[bisect(category_cum, r() * category_total)][0]
            elif anomaly == "two_current_units":
                category = "employee"
            elif anomaly == "work_before_16":
                category = "employee" if r() < 0.6 else "retiree"
            else:  # legacy15_duplicate: old enough to have held a first-generation card
                category = "retiree" if r() < 0.6 else "employee"
            male = r() < _MALE_SHARE[category]

            latest = legacy_latest if anomaly == "legacy15_duplicate" else None
            retire_ord = 0
            if category == "retiree":
                retire_age = 60 if male else (50 if r() < 0.6 else 55)
                birth_ord = self._birth(self.retiree_windows[(male, retire_age)], latest)
                retire_ord = _years_after(fromordinal(birth_ord), retire_age).toordinal()
            elif category == "dependant":
                birth_ord = self._birth(self.dependant_windows[0 if r() < 0.5 else 1])
            else:
                birth_ord = self._birth(self.windows[(category, male)], latest)
            day = days.get(birth_ord)
            if day is None:
                birth = fromordinal(birth_ord)
                day = days[birth_ord] = (birth, f"{birth.year:04d}{birth.month:02d}{birth.day:02d}")
            birth, ymd = day
            year = birth.year
            age_days = anchor_ord - birth_ord
            # Sixteen years always contain exactly four 29 Februaries between 1901 and 2099 (so a 29
            # February birthday lands on a 29 February), which saves a date construction per person.
            b16_ord = (
                birth_ord + _SIXTEEN_YEARS if 1900 < year < 2084 else _years_after(birth, 16).toordinal()
            )

            # Employment history; it decides the insured-at district of employees and retirees.
            spells: list[tuple[int, int | None, int, tuple[str, ...]]] = []  # start, end, unit, tags
            if category == "employee" or category == "retiree":
                if anomaly == "work_before_16":
                    # Mostly 14-15-year-olds, now and then an absurd "worked since age 1" (audit 2024).
                    years = 14 + 2 * r() if r() < 0.7 else 1 + 13 * r()
                    t0 = min(birth_ord + int(years * 365.25), b16_ord - 1)
                else:
                    # First job at 16-21 (retirees, older cohorts) or 18-23, never after the anchor.
                    first = (r() * 6) if category == "retiree" else (2 + r() * 6)
                    t0 = b16_ord + int(first * 365.25)
                    t0 = max(b16_ord, min(t0, anchor_ord - 30 - int(r() * 300)))
                t1 = retire_ord if category == "retiree" else anchor_ord
                parts = self._spells(t0, t1, 1 + int(r() * 3))
                last_unit = -1
                for i, (s, e) in enumerate(parts):
                    last_unit = pick_unit(last_unit)
                    early = ("work_before_16",) if s < b16_ord else ()
                    open_end = category == "employee" and i == len(parts) - 1
                    spells.append((s, None if open_end else e, last_unit, early))
                district = _DISTRICTS[units[last_unit].district]
                if anomaly == "two_current_units":
                    other = pick_unit(last_unit)
                    start = max(spells[-1][0] + 1, anchor_ord - 30 - int(r() * 1000))
                    spells.append((start, None, other, ("two_current_units",)))
            elif category == "flexible" and r() < 0.8:
                # Former employees who now pay as flexible workers: all spells ended.
                t0 = b16_ord + int((2 + r() * 6) * 365.25)
                t1 = anchor_ord - 180 - int(r() * 5 * 365)
                if t1 - t0 >= 60:
                    last_unit = -1
                    for s, e in self._spells(t0, t1, 1 + int(r() * 2)):
                        last_unit = pick_unit(last_unit)
                        spells.append((s, e, last_unit, ()))
                district = _DISTRICT_LIST[bisect(district_cum, r() * district_total)]
            else:
                district = _DISTRICT_LIST[bisect(district_cum, r() * district_total)]

            # ID number: unique body (address code, birth date, sequence), parity = sex.
            address_code = self._id_address(district, year)
            base = int(address_code + ymd) * 1000
            while True:
                seq = 2 * int(r() * 497) + (1 if male else 2)  # odd = male; <= 994 keeps 15-digit safe
                if base + seq not in issued:
                    issued.add(base + seq)
                    break
            seq3 = f"{seq:03d}"
            body17 = address_code + ymd + seq3
            check = check_digit(body17)
            if anomaly == "bad_check_digit":
                wrong = _ID_ALPHABET.replace(check, "")
                id_number = body17 + wrong[int(r() * len(wrong))]
            elif (
                anomaly is None
                and birth_ord <= legacy_latest
                and category in _LEGACY15_CATEGORIES
                and r() < _LEGACY15_SHARE
            ):
                # Old records never upgraded from the first-generation card: still a valid number.
                id_number = address_code + ymd[2:] + seq3
            else:
                id_number = body17 + check
            sex = "1" if male else "2"
            if anomaly == "sex_mismatch":
                sex = "2" if male else "1"

            # Contact data: children and the very old often have no phone of their own.
            if anomaly == "phone_invalid":
                mobile = _invalid_mobile(r, mobile_cum, mobile_total)
            else:
                no_phone = 0.85 if age_days < 5844 else (0.30 if age_days > 29220 else 0.03)
                mobile = "" if r() < no_phone else _mobile(r, mobile_cum, mobile_total)
            email = ""
            if 6575 < age_days < 25567 and r() < 0.07:  # adults 18-70
                if mobile and anomaly != "phone_invalid" and r() < 0.4:
                    email = f"{mobile}@163.com"
                else:
                    email = f"{10_000 + int(r() * 2_000_000_000)}@qq.com"
            name = _NAMES.name(r, male)
            address = places[district.code].address(r)
            bin_ = _BANK_BINS[int(r() * len(_BANK_BINS))]
            tags: tuple[str, ...] = (anomaly,) if anomaly is not None else ()

            if anomaly == "legacy15_duplicate":
                # The stale record from the first-generation card was created earlier, so it has the
                # smaller AAC001; no card account, no phone, an old address.
                yield (
                    PersonRecord(
                        person_no=str(3_700_000_001 + serial),
                        name=name,
                        id_number=address_code + ymd[2:] + seq3,
                        sex=sex,
                        birth_date=birth,
                        category=category,
                        district=district.code,
                        phone="",
                        email="",
                        address=places[district.code].address(r),
                        postcode=district.postcode,
                        bank_account="",
                        anomalies=tags,
                    ),
                    (),
                )
                serial += 1

            person_no = str(3_700_000_001 + serial)  # "37" + 8-digit serial
            # The 12 middle digits of the card number are an affine bijection of the serial modulo 10^12:
            # unique without remembering issued numbers, yet random-looking.
            card_body = f"{bin_}{(serial * 590_872_612_739 + 104_729) % 1_000_000_000_000:012d}"
            employments = (
                tuple(
                    EmploymentRecord(
                        person_no=person_no,
                        unit_no=units[u].unit_no,
                        start_date=fromordinal(s),
                        end_date=None if e is None else fromordinal(e),
                        anomalies=t,
                    )
                    for s, e, u, t in spells
                )
                if spells
                else ()
            )
            yield (
                PersonRecord(
                    person_no=person_no,
                    name=name,
                    id_number=id_number,
                    sex=sex,
                    birth_date=birth,
                    category=category,
                    district=district.code,
                    phone=mobile,
                    email=email,
                    address=address,
                    postcode=district.postcode,
                    bank_account=card_body + _luhn_digit(card_body),
                    anomalies=tags,
                ),
                employments,
            )
            serial += 1


def _resolve_units(
    persons: int, units: int | Sequence[UnitRecord] | None, seed: int, anchor: date
) -> Sequence[UnitRecord]:
    if units is None:
        units = default_unit_count(persons)
    if isinstance(units, int):
        return generate_units(count=units, seed=seed)
    return units


def iter_person_rows(
    *,
    persons: int,
    units: int | Sequence[UnitRecord] | None = None,
    seed: int = DEFAULT_SEED,
    anchor: date = DEFAULT_ANCHOR,
) -> Iterator[tuple[PersonRecord, tuple[EmploymentRecord, ...]]]:
    """Stream ``persons`` person records, each with its employment spells.

    ``units`` is the unit list to employ people in, or a unit count (default
    :func:`default_unit_count`) to generate it with the same seed. Memory stays flat apart from the
    set of issued ID bodies (~70 MB per million persons), which keeps ID numbers unique.
    """
    unit_list = _resolve_units(persons, units, seed, anchor)
    return _PersonFactory(persons=persons, units=unit_list, seed=seed, anchor=anchor).rows()


def iter_persons(
    *,
    persons: int,
    units: int | Sequence[UnitRecord] | None = None,
    seed: int = DEFAULT_SEED,
    anchor: date = DEFAULT_ANCHOR,
) -> Iterator[PersonRecord]:
    """Stream person records only (see :func:`iter_person_rows`)."""
    for person, _ in iter_person_rows(persons=persons, units=units, seed=seed, anchor=anchor):
        yield person


_T = TypeVar("_T")


class _Replayable(Generic[_T]):
    """A re-iterable, lazily generated sequence: every ``iter()`` replays the deterministic stream."""

    def __init__(self, factory: Callable[[], Iterator[_T]]) -> None:
        self._factory = factory

    def __iter__(self) -> Iterator[_T]:
        return self._factory()


@dataclass(frozen=True)
class DemoData:
    """One generated data set. Small parts are lists; persons and employments are replayable streams
    (iterate them as often as needed; each pass regenerates them identically)."""

    seed: int
    anchor: date
    person_count: int
    agencies: list[AgencyRecord]
    service_institutions: list[ServiceInstitutionRecord]
    units: list[UnitRecord]

    def rows(self) -> Iterator[tuple[PersonRecord, tuple[EmploymentRecord, ...]]]:
        """Persons with their employments in one pass (the efficient way to load both)."""
        return iter_person_rows(
            persons=self.person_count, units=self.units, seed=self.seed, anchor=self.anchor
        )

    @property
    def persons(self) -> Iterable[PersonRecord]:
        return _Replayable(lambda: (p for p, _ in self.rows()))

    @property
    def employments(self) -> Iterable[EmploymentRecord]:
        return _Replayable(lambda: (e for _, spells in self.rows() for e in spells))


def generate(
    *,
    persons: int,
    units: int | None = None,
    seed: int = DEFAULT_SEED,
    anchor: date = DEFAULT_ANCHOR,
) -> DemoData:
    """Generate a complete demo data set: agencies, service institutions, units, persons, employments.

    ``units`` defaults to :func:`default_unit_count` (persons / 15, at least 50). Units, agencies and
    service institutions are built now; persons and employments stream on iteration.
    """
    unit_list = generate_units(count=default_unit_count(persons) if units is None else units, seed=seed)
    return DemoData(
        seed=seed,
        anchor=anchor,
        person_count=persons,
        agencies=generate_agencies(),
        service_institutions=generate_service_institutions(seed=seed),
        units=unit_list,
    )
