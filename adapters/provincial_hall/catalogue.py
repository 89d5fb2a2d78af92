"""The sandbox hall's service-item catalogue (事项目录): Weihai-like, generated the same every time.

About seventy items of the city's departments (licensing, benefits, public services,
penalties…, immediate and committed, with their legal and committed limits in working
days, the materials their guides list and how far they are online), each implemented by
the city and by its four county-level areas: a few hundred items. Asked for more (up to
5,000 and beyond), the same items are implemented by towns and streets too. Department
codes are real-shaped unified social credit codes (the check character is right).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["BASE_ITEMS", "DEFAULT_SIZE", "DEPARTMENTS", "EXAMPLE_ITEM_CODE", "generate"]

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: The item of the canonical examples (schemas/examples/case.submitted.json).
EXAMPLE_ITEM_CODE = "11371000004336447K4370220001000"

#: Department key → name suffix (after the area's name).
DEPARTMENTS = {
    "approval": "行政审批服务局",
    "development": "发展和改革委员会",
    "education": "教育局",
    "police": "公安局",
    "civil": "民政局",
    "justice": "司法局",
    "labour": "人力资源和社会保障局",
    "land": "自然资源和规划局",
    "environment": "生态环境局",
    "housing": "住房和城乡建设局",
    "transport": "交通运输局",
    "agriculture": "农业农村局",
    "health": "卫生健康委员会",
    "market": "市场监督管理局",
    "insurance": "医疗保障局",
    "veterans": "退役军人事务局",
    "culture": "文化和旅游局",
    "emergency": "应急管理局",
    "city": "城市管理局",
    "fund": "住房公积金管理中心",
}

#: (region code, name): the city, then its county-level areas.
AREAS = (
    ("371000", "威海市"),
    ("371002", "威海市环翠区"),
    ("371003", "威海市文登区"),
    ("371082", "荣成市"),
    ("371083", "乳山市"),
)
#: Towns and streets (镇街), each under its area: where more items are implemented.
TOWNS = (
    ("371002", "鲸园街道"),
    ("371002", "环翠楼街道"),
    ("371002", "竹岛街道"),
    ("371002", "怡园街道"),
    ("371002", "田和街道"),
    ("371002", "皇冠街道"),
    ("371002", "孙家疃街道"),
    ("371002", "张村镇"),
    ("371002", "羊亭镇"),
    ("371002", "温泉镇"),
    ("371002", "桥头镇"),
    ("371003", "龙山街道"),
    ("371003", "天福街道"),
    ("371003", "环山街道"),
    ("371003", "宋村镇"),
    ("371003", "泽头镇"),
    ("371003", "小观镇"),
    ("371003", "葛家镇"),
    ("371003", "米山镇"),
    ("371003", "界石镇"),
    ("371003", "高村镇"),
    ("371082", "宁津街道"),
    ("371082", "港湾街道"),
    ("371082", "桃园街道"),
    ("371082", "王连街道"),
    ("371082", "东山街道"),
    ("371082", "斥山街道"),
    ("371082", "崖头街道"),
    ("371082", "城西街道"),
    ("371082", "石岛管理区"),
    ("371082", "俚岛镇"),
    ("371082", "成山镇"),
    ("371082", "埠柳镇"),
    ("371083", "城区街道"),
    ("371083", "夏村镇"),
    ("371083", "乳山口镇"),
    ("371083", "海阳所镇"),
    ("371083", "白沙滩镇"),
    ("371083", "大孤山镇"),
    ("371083", "南黄镇"),
    ("371083", "冯家镇"),
    ("371083", "下初镇"),
)


@dataclass(frozen=True, slots=True)
class BaseItem:
    """An item as the guide template defines it, before an area implements it."""

    serial: str  # 10 digits: the item's part of the 实施编码
    name: str
    department: str
    item_type: str
    case_kind: str
    legal: int | None
    committed: int
    materials: tuple[str, ...]
    depth: str  # 1 published, 2 pre-review, 3 fully online


def _b(
    serial: str,
    name: str,
    department: str,
    item_type: str,
    kind: str,
    legal: int | None,
    committed: int,
    materials: tuple[str, ...],
    depth: str,
) -> BaseItem:
    return BaseItem(serial, name, department, item_type, kind, legal, committed, materials, depth)


_ID = "居民身份证"
_LICENCE = "营业执照"
_FORM = "申请表"

BASE_ITEMS = (
    _b("4370220001", "老年人优待证办理", "civil", "20", "1", None, 0, (_ID, "近期免冠照片"), "3"),
    _b(
        "1371000011",
        "社会团体成立登记",
        "civil",
        "01",
        "2",
        60,
        20,
        ("登记申请书", "章程草案", "验资报告", "住所使用证明"),
        "2",
    ),
    _b(
        "1371000012",
        "内地居民婚姻登记",
        "civil",
        "07",
        "1",
        None,
        0,
        ("户口簿", _ID, "近期半身免冠合影照片"),
        "1",
    ),
    _b(
        "1371000013",
        "最低生活保障审核确认",
        "civil",
        "05",
        "2",
        30,
        15,
        (_FORM, _ID, "家庭收入情况声明"),
        "2",
    ),
    _b(
        "1371000014",
        "慈善组织认定",
        "civil",
        "07",
        "2",
        20,
        10,
        ("申请书", "章程", "财务报告"),
        "2",
    ),
    _b(
        "1371000015", "养老机构备案", "civil", "20", "1", None, 0, ("备案书", "消防安全承诺书"), "3"
    ),
    _b(
        "1371000021",
        "城乡居民基本养老保险参保登记",
        "labour",
        "20",
        "1",
        None,
        0,
        (_ID, "户口簿"),
        "3",
    ),
    _b(
        "1371000022",
        "人力资源服务许可",
        "labour",
        "01",
        "2",
        20,
        10,
        (_FORM, _LICENCE, "场所使用证明"),
        "3",
    ),
    _b(
        "1371000023",
        "劳务派遣经营许可",
        "labour",
        "01",
        "2",
        20,
        10,
        (_FORM, _LICENCE, "验资报告", "经营场所证明"),
        "2",
    ),
    _b("1371000024", "失业保险金申领", "labour", "05", "2", 10, 5, (_ID, "解除劳动合同证明"), "3"),
    _b("1371000025", "就业创业证申领", "labour", "20", "1", None, 0, (_ID,), "3"),
    _b(
        "1371000031",
        "食品经营许可",
        "market",
        "01",
        "2",
        20,
        5,
        ("食品经营许可申请书", _LICENCE, "主要设备设施布局图", "食品安全管理制度"),
        "3",
    ),
    _b(
        "1371000032",
        "食品生产许可",
        "market",
        "01",
        "2",
        20,
        10,
        ("食品生产许可申请书", _LICENCE, "生产工艺流程图", "食品安全管理制度"),
        "2",
    ),
    _b(
        "1371000033",
        "企业设立登记",
        "market",
        "01",
        "2",
        15,
        1,
        ("设立登记申请书", "公司章程", "住所使用证明"),
        "3",
    ),
    _b(
        "1371000034",
        "药品零售企业许可",
        "market",
        "01",
        "2",
        30,
        15,
        (_FORM, _LICENCE, "执业药师资格证", "经营场所平面图"),
        "2",
    ),
    _b(
        "1371000035",
        "特种设备使用登记",
        "market",
        "01",
        "2",
        15,
        5,
        ("使用登记表", "产品合格证", "监督检验证书"),
        "3",
    ),
    _b(
        "1371000036",
        "检验检测机构资质认定",
        "market",
        "01",
        "2",
        30,
        20,
        ("资质认定申请书", "质量手册", "程序文件"),
        "2",
    ),
    _b(
        "1371000037",
        "对未取得食品经营许可从事食品经营活动的行政处罚",
        "market",
        "02",
        "2",
        90,
        60,
        ("立案审批表", "调查笔录"),
        "1",
    ),
    _b(
        "1371000038",
        "查封、扣押不符合食品安全标准的食品",
        "market",
        "03",
        "2",
        30,
        30,
        ("现场笔录", "查封扣押决定书"),
        "1",
    ),
    _b("1371000039", "特种设备安全监督检查", "market", "06", "2", 30, 30, ("检查记录",), "1"),
    _b(
        "1371000041",
        "建设工程规划许可证核发",
        "land",
        "01",
        "2",
        20,
        9,
        (_FORM, "建设工程设计方案", "土地权属证明"),
        "3",
    ),
    _b(
        "1371000042",
        "建设用地规划许可证核发",
        "land",
        "01",
        "2",
        20,
        5,
        (_FORM, "用地红线图", "项目批准文件"),
        "3",
    ),
    _b(
        "1371000043",
        "不动产首次登记",
        "land",
        "07",
        "2",
        30,
        5,
        ("不动产登记申请书", "权属来源证明", "不动产权籍调查成果"),
        "2",
    ),
    _b(
        "1371000044",
        "乡村建设规划许可证核发",
        "land",
        "01",
        "2",
        20,
        10,
        (_FORM, "村民委员会意见", "建设工程设计方案"),
        "2",
    ),
    _b("1371000045", "土地权属争议裁决", "land", "09", "2", 60, 60, ("申请书", "权属证据"), "1"),
    _b(
        "1371000051",
        "建筑工程施工许可证核发",
        "housing",
        "01",
        "2",
        15,
        5,
        (_FORM, "建设工程规划许可证", "施工合同", "施工图审查合格书"),
        "3",
    ),
    _b(
        "1371000052",
        "建设工程竣工验收备案",
        "housing",
        "10",
        "2",
        15,
        4,
        ("竣工验收备案表", "竣工验收报告", "工程质量保修书"),
        "3",
    ),
    _b(
        "1371000053",
        "商品房预售许可",
        "housing",
        "01",
        "2",
        10,
        5,
        (_FORM, "建设工程规划许可证", "施工许可证", "预售方案"),
        "2",
    ),
    _b(
        "1371000054",
        "建筑业企业资质核准",
        "housing",
        "01",
        "2",
        20,
        10,
        (_FORM, _LICENCE, "技术负责人资料"),
        "3",
    ),
    _b(
        "1371000055",
        "燃气经营许可证核发",
        "housing",
        "01",
        "2",
        20,
        10,
        (_FORM, "气源证明", "安全评价报告"),
        "2",
    ),
    _b(
        "1371000056",
        "城市基础设施配套费征收",
        "housing",
        "04",
        "1",
        None,
        0,
        ("建设工程规划许可证",),
        "2",
    ),
    _b(
        "1371000061",
        "企业投资项目核准",
        "development",
        "01",
        "2",
        20,
        5,
        ("项目申请报告", "规划选址意见", "用地预审意见"),
        "3",
    ),
    _b(
        "1371000062",
        "企业投资项目备案",
        "development",
        "10",
        "1",
        None,
        0,
        ("项目备案信息表",),
        "3",
    ),
    _b(
        "1371000063",
        "固定资产投资项目节能审查",
        "development",
        "01",
        "2",
        20,
        10,
        ("节能报告",),
        "2",
    ),
    _b(
        "1371000071",
        "建设项目环境影响报告书审批",
        "environment",
        "01",
        "2",
        60,
        20,
        ("环境影响报告书", "公众参与说明"),
        "2",
    ),
    _b(
        "1371000072",
        "建设项目环境影响报告表审批",
        "environment",
        "01",
        "2",
        30,
        10,
        ("环境影响报告表",),
        "3",
    ),
    _b(
        "1371000073",
        "排污许可证核发",
        "environment",
        "01",
        "2",
        20,
        15,
        ("排污许可证申请表", "自行监测方案"),
        "3",
    ),
    _b(
        "1371000081",
        "道路货物运输经营许可",
        "transport",
        "01",
        "2",
        20,
        5,
        (_FORM, "车辆情况", "驾驶人员从业资格证"),
        "3",
    ),
    _b(
        "1371000082",
        "道路旅客运输经营许可",
        "transport",
        "01",
        "2",
        20,
        10,
        (_FORM, "客运车辆情况", "安全生产管理制度"),
        "2",
    ),
    _b(
        "1371000083",
        "出租汽车驾驶员从业资格证核发",
        "transport",
        "01",
        "2",
        20,
        5,
        (_ID, "机动车驾驶证", "考试合格证明"),
        "3",
    ),
    _b(
        "1371000084",
        "对违反道路运输管理规定的行政处罚",
        "transport",
        "02",
        "2",
        90,
        60,
        ("立案审批表", "询问笔录"),
        "1",
    ),
    _b(
        "1371000091",
        "医疗机构执业登记",
        "health",
        "01",
        "2",
        45,
        20,
        ("执业登记申请书", "房屋产权证明", "医务人员资格证书"),
        "2",
    ),
    _b(
        "1371000092",
        "公共场所卫生许可",
        "health",
        "01",
        "2",
        20,
        5,
        (_FORM, _LICENCE, "卫生检测报告"),
        "3",
    ),
    _b(
        "1371000093",
        "出生医学证明办理",
        "health",
        "20",
        "1",
        None,
        0,
        ("父母居民身份证", "住院病历"),
        "2",
    ),
    _b(
        "1371000094",
        "母婴保健技术服务执业许可",
        "health",
        "01",
        "2",
        20,
        10,
        (_FORM, "医疗机构执业许可证", "人员资格证明"),
        "2",
    ),
    _b(
        "1371000101",
        "民办学校设立审批",
        "education",
        "01",
        "2",
        60,
        30,
        ("申办报告", "举办者资格证明", "章程"),
        "2",
    ),
    _b(
        "1371000102",
        "教师资格认定",
        "education",
        "07",
        "2",
        30,
        20,
        (_ID, "学历证书", "体检合格证明"),
        "3",
    ),
    _b("1371000111", "居民身份证换领", "police", "20", "2", 60, 20, (_ID, "户口簿"), "2"),
    _b("1371000112", "户口迁移", "police", "20", "2", 20, 5, ("户口簿", "准予迁入证明"), "2"),
    _b("1371000113", "犬只登记", "police", "07", "2", 10, 3, ("犬只免疫证明", _ID), "3"),
    _b(
        "1371000114",
        "见义勇为人员奖励和表彰",
        "police",
        "08",
        "2",
        30,
        20,
        ("推荐材料", "事迹证明"),
        "1",
    ),
    _b(
        "1371000121",
        "律师事务所设立许可",
        "justice",
        "01",
        "2",
        20,
        10,
        ("设立申请书", "章程", "律师执业证"),
        "2",
    ),
    _b(
        "1371000122",
        "法律援助申请",
        "justice",
        "05",
        "2",
        7,
        3,
        ("法律援助申请表", _ID, "经济困难状况说明"),
        "3",
    ),
    _b(
        "1371000131",
        "兽药经营许可证核发",
        "agriculture",
        "01",
        "2",
        20,
        10,
        (_FORM, "质量管理制度", "场所证明"),
        "2",
    ),
    _b(
        "1371000132",
        "农药经营许可",
        "agriculture",
        "01",
        "2",
        20,
        10,
        (_FORM, "营业场所证明", "专业技术人员证明"),
        "2",
    ),
    _b(
        "1371000133",
        "渔业捕捞许可",
        "agriculture",
        "01",
        "2",
        20,
        5,
        ("捕捞许可申请书", "渔业船舶检验证书", "渔业船舶国籍证书"),
        "3",
    ),
    _b(
        "1371000134",
        "水产苗种生产许可",
        "agriculture",
        "01",
        "2",
        20,
        10,
        (_FORM, "生产条件证明", "技术人员资质"),
        "2",
    ),
    _b(
        "1371000141",
        "营业性演出审批",
        "culture",
        "01",
        "2",
        20,
        3,
        (_FORM, "演出合同", "节目内容说明"),
        "3",
    ),
    _b(
        "1371000142",
        "旅行社设立许可",
        "culture",
        "01",
        "2",
        20,
        10,
        (_FORM, _LICENCE, "经营场所证明", "质量保证金凭证"),
        "3",
    ),
    _b(
        "1371000143",
        "娱乐场所经营许可",
        "culture",
        "01",
        "2",
        20,
        10,
        (_FORM, "消防验收证明", "场所平面图"),
        "2",
    ),
    _b("1371000151", "医疗保险关系转移接续", "insurance", "20", "2", 15, 5, ("参保凭证", _ID), "3"),
    _b("1371000152", "异地就医备案", "insurance", "20", "1", None, 0, (_ID,), "3"),
    _b(
        "1371000161",
        "退役士兵自主就业一次性经济补助金的给付",
        "veterans",
        "05",
        "2",
        30,
        15,
        ("退役证明", _ID),
        "2",
    ),
    _b(
        "1371000171",
        "危险化学品经营许可证核发",
        "emergency",
        "01",
        "2",
        30,
        10,
        (_FORM, "安全评价报告", "安全管理制度"),
        "2",
    ),
    _b(
        "1371000172",
        "烟花爆竹经营（零售）许可",
        "emergency",
        "01",
        "2",
        20,
        10,
        (_FORM, "零售场所证明", "安全管理制度"),
        "2",
    ),
    _b(
        "1371000181",
        "城市建筑垃圾处置核准",
        "city",
        "01",
        "2",
        20,
        5,
        (_FORM, "运输车辆证明", "消纳场地证明"),
        "3",
    ),
    _b(
        "1371000182",
        "占用、挖掘城市道路审批",
        "city",
        "01",
        "2",
        20,
        5,
        (_FORM, "施工方案", "交通组织方案"),
        "3",
    ),
    _b(
        "1371000183",
        "设置大型户外广告审批",
        "city",
        "01",
        "2",
        20,
        5,
        (_FORM, "设计图", "安全检测报告"),
        "2",
    ),
    _b("1371000191", "住房公积金提取", "fund", "20", "1", None, 0, (_ID, "提取证明材料"), "3"),
    _b(
        "1371000192",
        "住房公积金贷款",
        "fund",
        "20",
        "2",
        15,
        5,
        (_ID, "购房合同", "婚姻状况证明"),
        "3",
    ),
    _b(
        "1371000201",
        "投资项目联合审批（工程建设项目一门受理）",
        "approval",
        "01",
        "2",
        60,
        28,
        ("项目申请表", "前期审批文件"),
        "2",
    ),
)

#: Items the sandbox holds unless asked for another number: every item in every area.
DEFAULT_SIZE = len(BASE_ITEMS) * len(AREAS)
#: The hall's stamp of the catalogue as it is first published.
PUBLISHED_AT = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def uscc(region: str, organisation: str) -> str:
    """A government body's unified social credit code (``11`` + region + 9 + check)."""
    body = "11" + region + organisation
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def _bodies() -> list[tuple[str, str, int]]:
    """Implementing places, in order: ``(region, name, number)``; areas first, then towns."""
    found = [(region, name, index) for index, (region, name) in enumerate(AREAS)]
    found += [
        (region, f"{dict(AREAS)[region]}{town}", len(AREAS) + index)
        for index, (region, town) in enumerate(TOWNS)
    ]
    return found


def generate(count: int = DEFAULT_SIZE) -> list[dict[str, Any]]:
    """``count`` items (``ItemInfo`` fields), the same for the same ``count``.

    Raises:
        ValueError: More items than the places and items can make.
    """
    bodies = _bodies()
    if count > len(bodies) * len(BASE_ITEMS) * 10:
        raise ValueError(f"the sandbox catalogue has at most {len(bodies) * len(BASE_ITEMS) * 10}")
    departments = list(DEPARTMENTS)
    made: list[dict[str, Any]] = []
    for number in range(count):
        base = BASE_ITEMS[number % len(BASE_ITEMS)]
        place = number // len(BASE_ITEMS)
        region, place_name, body_no = bodies[place % len(bodies)]
        batch = place // len(bodies)  # beyond every place: further sub-items (情形)
        town = body_no >= len(AREAS)
        # A town or street implements its items through one service centre (便民服务中心).
        dept_no = 99 if town else departments.index(base.department)
        department_code = uscc(region, f"00433{dept_no:02d}{body_no:02d}")
        department_name = (
            f"{place_name}便民服务中心" if town else f"{place_name}{DEPARTMENTS[base.department]}"
        )
        suffix = f"{base.serial}{body_no:02d}{batch}"
        code = department_code + suffix
        if number == 0:
            code = EXAMPLE_ITEM_CODE
        name = base.name if batch == 0 else f"{base.name}（情形{batch}）"
        made.append(
            {
                "SXBM": code,
                "SXMC": name,
                "SXLX": base.item_type,
                "BJLX": base.case_kind,
                "SSZTBM": department_code,
                "SSZTMC": department_name,
                "FDBJSX": base.legal,
                "CNBJSX": base.committed,
                "WBSD": base.depth,
                "XZQHDM": region,
                "ZT": "1",
                "BBH": 1,
                "SBCL": [
                    {"CLMC": material, "SFBX": index == 0 or material != _ID}
                    for index, material in enumerate(base.materials)
                ],
            }
        )
    return made
