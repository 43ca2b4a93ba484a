"""Load the code tables. The data lives here, frozen with the migration, so that a database built at any
later time holds exactly the codes this version of the product shipped with."""

from datetime import date

from django.db import migrations

PROVINCES = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省",
    "150000": "内蒙古自治区", "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省",
    "350000": "福建省", "360000": "江西省", "370000": "山东省", "410000": "河南省",
    "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省",
    "530000": "云南省", "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省",
    "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区", "710000": "台湾省",
    "810000": "香港特别行政区", "820000": "澳门特别行政区",
}  # fmt: skip

# (code, name, kind, parent, valid_from, valid_to, administered district, note)
WEIHAI = [
    ("371000", "威海市", "prefecture", "370000", date(1987, 6, 15), None, True, "地级市，市级"),
    ("371002", "环翠区", "county", "371000", date(1987, 6, 15), None, True, ""),
    ("371003", "文登区", "county", "371000", date(2014, 1, 23), None, True, "原文登市 371081"),
    ("371082", "荣成市", "county", "371000", date(1989, 1, 1), None, True, "原荣成县 371023"),
    ("371083", "乳山市", "county", "371000", date(1993, 1, 1), None, True, "原乳山县 371021"),
    ("371071", "威海火炬高技术产业开发区", "zone", "371000", None, None, True,
     "国家级高新区；国家统计用区划代码，非 GB/T 2260 代码"),
    ("371072", "威海经济技术开发区", "zone", "371000", None, None, True,
     "国家级经开区；国家统计用区划代码，非 GB/T 2260 代码"),
    ("371073", "威海临港经济技术开发区", "zone", "371000", None, None, True,
     "国家统计用区划代码，非 GB/T 2260 代码"),
    ("371081", "文登市", "county", "371000", date(1989, 1, 1), date(2014, 1, 22), False, "撤市设区为文登区"),
    ("371021", "乳山县", "county", "371000", date(1987, 6, 15), date(1992, 12, 31), False, "撤县设乳山市"),
    ("371022", "文登县", "county", "371000", date(1987, 6, 15), date(1988, 12, 31), False, "撤县设文登市"),
    ("371023", "荣成县", "county", "371000", date(1987, 6, 15), date(1988, 12, 31), False, "撤县设荣成市"),
]  # fmt: skip

# Divisions outside Weihai that the demo data and tests use as places of issue of ID numbers.
ELSEWHERE = [
    ("370600", "烟台市", "prefecture", "370000"),
    ("370602", "芝罘区", "county", "370600"),
    ("370100", "济南市", "prefecture", "370000"),
    ("370102", "历下区", "county", "370100"),
    ("370200", "青岛市", "prefecture", "370000"),
    ("370202", "市南区", "county", "370200"),
    ("110100", "北京市市辖区", "prefecture", "110000"),
    ("110105", "朝阳区", "county", "110100"),
    ("230100", "哈尔滨市", "prefecture", "230000"),
    ("230103", "南岗区", "county", "230100"),
]

CODES = {
    "AAE140": [
        ("110", "企业职工基本养老保险", "Enterprise employees' basic pension insurance"),
        ("120", "机关事业单位养老保险", "Pension insurance of government and public institutions"),
        ("170", "城乡居民基本养老保险", "Urban and rural residents' basic pension insurance"),
        ("210", "失业保险", "Unemployment insurance"),
        ("310", "职工基本医疗保险", "Employees' basic medical insurance"),
        ("390", "城乡居民基本医疗保险", "Urban and rural residents' basic medical insurance"),
        ("410", "工伤保险", "Work-injury insurance"),
        ("510", "生育保险", "Maternity insurance"),
    ],
    "person_category": [
        ("employee", "在职职工", "In-service employee"),
        ("retiree", "离退休人员", "Retiree"),
        ("flexible", "灵活就业人员", "Flexible worker"),
        ("resident", "城乡居民", "Urban or rural resident"),
        ("land_lost_farmer", "失地农民", "Land-lost farmer"),
        ("dependant", "供养亲属", "Supported dependant"),
        ("proxy_recipient", "代发待遇人员", "Proxy benefit recipient"),
    ],
    "unit_type": [
        ("enterprise", "企业", "Enterprise"),
        ("government", "机关", "Government body"),
        ("public_institution", "事业单位", "Public institution"),
        ("school", "学校", "School"),
        ("social_org", "社会团体", "Social organisation"),
        ("private_non_enterprise", "民办非企业单位", "Private non-enterprise unit"),
        ("individual_business", "个体工商户", "Individual business"),
        ("other", "其他组织", "Other organisation"),
    ],
    "service_kind": [
        ("hrss_station", "人力资源和社会保障所（站）", "Human-resources and social-security station"),
        ("medical", "定点医疗机构", "Designated medical institution"),
        ("pharmacy", "定点零售药店", "Designated pharmacy"),
        ("rehab", "工伤康复机构", "Work-injury rehabilitation institution"),
        ("bank", "合作金融机构", "Partner bank"),
    ],
}


def load(apps, schema_editor):
    region = apps.get_model("parameters", "Region")
    code_item = apps.get_model("parameters", "CodeItem")
    for code, name in PROVINCES.items():
        region.objects.create(code=code, name=name, kind="province")
    for code, name, kind, parent in ELSEWHERE:
        region.objects.create(code=code, name=name, kind=kind, parent_id=parent)
    for code, name, kind, parent, start, end, district, note in WEIHAI:
        region.objects.create(
            code=code, name=name, kind=kind, parent_id=parent, valid_from=start, valid_to=end,
            is_district=district, note=note,
        )  # fmt: skip
    for table, items in CODES.items():
        for sort, (code, zh, en) in enumerate(items):
            code_item.objects.create(table=table, code=code, name_zh=zh, name_en=en, sort=sort)


def unload(apps, schema_editor):
    apps.get_model("parameters", "CodeItem").objects.all().delete()
    apps.get_model("parameters", "Region").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("parameters", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
