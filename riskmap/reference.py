"""Reference lists from the standards (GB 6441-1986/2025, GB/T 13861, control measure classes)."""

from __future__ import annotations

ACCIDENT_TYPES_1986: tuple[str, ...] = (
    "物体打击", "车辆伤害", "机械伤害", "起重伤害", "触电", "淹溺", "灼烫", "火灾", "高处坠落", "坍塌",
    "冒顶片帮", "透水", "放炮", "火药爆炸", "瓦斯爆炸", "锅炉爆炸", "容器爆炸", "其他爆炸", "中毒和窒息",
    "其他伤害",
)

ACCIDENT_TYPES_2025: tuple[str, ...] = (
    "物体打击", "厂（场）内车辆致害", "道路（轨道）车辆致害", "机械致害", "起重致害", "触电", "淹溺", "灼烫",
    "火灾", "高处坠落", "跌落", "坍塌", "水害", "容器爆炸", "管道爆炸", "可燃气体爆炸", "可燃液体蒸气爆炸",
    "粉尘爆炸", "民用爆炸物品爆炸", "烟花爆竹爆炸", "其他可燃固体爆炸", "高温熔融物爆炸", "中毒", "窒息",
    "滑坡", "泄漏", "其他",
)

# One published mapping from the 1986 list to the 2025 list; names not listed are unchanged.
ACCIDENT_1986_TO_2025: dict[str, str] = {
    "车辆伤害": "厂（场）内车辆致害",
    "机械伤害": "机械致害",
    "起重伤害": "起重致害",
    "冒顶片帮": "坍塌",
    "透水": "水害",
    "放炮": "民用爆炸物品爆炸",
    "火药爆炸": "民用爆炸物品爆炸",
    "瓦斯爆炸": "可燃气体爆炸",
    "锅炉爆炸": "容器爆炸",
    "其他爆炸": "其他",
    "中毒和窒息": "中毒",
    "其他伤害": "其他",
}

_FULLWIDTH = str.maketrans({"(": "（", ")": "）"})


def normalise_accident_type(text: str) -> str:
    """Fold half-width brackets and spaces so that 厂(场)内车辆致害 matches the standard spelling."""
    return "".join(str(text).split()).translate(_FULLWIDTH)


def classify_accident_type(text: str) -> tuple[str, str]:
    """Return (standard, name in the 2025 list) for an accident type from either list.

    `standard` is "GB 6441-1986", "GB 6441-2025" or "both" (the name is in both lists).
    Raises ValueError naming the allowed values for anything else.
    """
    name = normalise_accident_type(text)
    in86 = name in ACCIDENT_TYPES_1986
    in25 = name in ACCIDENT_TYPES_2025
    if in86 and in25:
        return "both", name
    if in86:
        return "GB 6441-1986", ACCIDENT_1986_TO_2025.get(name, name)
    if in25:
        return "GB 6441-2025", name
    raise ValueError(
        f"事故类型 “{text}” 不在 GB 6441-1986 或 GB 6441-2025 中 / unknown accident type {text!r}"
    )


# GB/T 13861 hazard factor top categories (2022 sub-codes unverified: keep codes free-form below these).
HAZARD_CATEGORIES: dict[str, str] = {
    "1": "人的因素", "11": "心理、生理性危险和有害因素", "12": "行为性危险和有害因素",
    "2": "物的因素", "21": "物理性危险和有害因素", "22": "化学性危险和有害因素", "23": "生物性危险和有害因素",
    "3": "环境因素", "31": "室内作业场所环境不良", "32": "室外作业场地环境不良",
    "33": "地下（含水下）作业环境不良", "39": "其他作业环境不良",
    "4": "管理因素",
}

# Control measure classes of the national data exchange (chemical sector).
CONTROL_CLASSES: dict[str, str] = {
    "1": "工程技术", "1-1": "工艺控制", "1-2": "关键设备/部件", "1-3": "安全附件", "1-4": "安全仪表", "1-5": "其他",
    "2": "维护保养", "2-1": "动设备", "2-2": "静设备",
    "3": "操作行为", "3-1": "人员资质", "3-2": "操作记录", "3-3": "交接班",
    "4": "应急措施", "4-1": "应急设施", "4-2": "个体防护", "4-3": "消防设施", "4-4": "应急预案", "4-5": "其他",
}

# Columns used outside the chemical sector.
CONTROL_COLUMNS_GENERAL: tuple[str, ...] = ("工程技术", "管理", "培训教育", "个体防护", "应急处置")
