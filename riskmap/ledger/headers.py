"""Column headers as enterprises write them in 表B/表C, and what each one means.

A column is known by its header path (group texts of merged header rows, then its own text), e.g.
("风险评价", "L") or ("管控措施", "工程技术"). Matching is on a normalised form (no spaces, half-width brackets,
case folded, unit suffixes such as （t） removed), so 可能性（L）, 可能性 L and 可能性L read alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from riskmap.domain import UnitKind

_FOLD = str.maketrans({"（": "(", "）": ")", "：": ":", "／": "/", "，": ",", "、": ",", "＝": "=", "×": "x",
                       "*": "x", "【": "(", "】": ")", "[": "(", "]": ")"})
_UNIT_SUFFIX = re.compile(r"\((t|吨|人|个|m|米|元|万元|tonne|tonnes)\)$")


def display(text: str) -> str:
    """A header as the user wrote it, on one line."""
    return " ".join(str(text).split())


def norm(text: str, fold_case: bool = True) -> str:
    """The form headers are matched on: no spaces, half-width brackets, unit suffixes such as （t） removed, and
    case folded unless `fold_case` is False (substance sheets tell q from Q)."""
    out = "".join(str(text).split()).translate(_FOLD).rstrip(":")
    out = _UNIT_SUFFIX.sub("", out)
    return out.casefold() if fold_case else out


def _set(*words: str) -> frozenset[str]:
    return frozenset(norm(w) for w in words)


SEQ = _set("序号", "编号", "行号", "No", "No.", "序")
IGNORED = _set("备注", "说明", "危险程度", "风险程度", "危险程度描述", "风险色", "事故类型(GB6441-2025)",
               "事故类型(2025版)", "2025版事故类型", "GB6441-2025事故类型")

UNIT_ID = _set("单元编号", "评估单元编号", "风险点编号", "风险单元编号", "单元代码", "风险点代码", "风险点编码",
               "单元编码", "风险分析单元编号", "风险分析单元编码", "评估单元代码")
UNIT_NAME = _set("评估单元", "风险点", "风险点名称", "单元名称", "评估单元名称", "风险单元", "风险单元名称",
                 "风险分析单元", "风险分析单元名称", "分析单元", "单元", "风险点(单元)", "风险点/单元",
                 "风险点(评估单元)", "评估单元(风险点)", "风险点/评估单元")
# (order, kind): several unit columns describe one path, outermost first; kind None means "by depth".
UNIT_LEVEL: dict[str, tuple[int, UnitKind | None]] = {}
for _words, _spec in (
    (("主单元", "一级单元", "区域", "生产区域", "所属区域", "区域名称", "区域/场所", "系统", "生产系统"), (1, None)),
    (("分单元", "二级单元", "车间", "装置", "生产装置", "车间/装置", "装置/车间", "车间名称", "装置名称"), (2, None)),
    (("子单元", "三级单元", "子系统", "工序", "工段"), (3, None)),
    (("岗位单元", "岗位", "岗位名称", "作业岗位"), (5, UnitKind.POST)),
    (("设备设施", "设备设施名称", "设备名称", "设备", "设施", "设备/设施", "设施名称"), (5, UnitKind.EQUIPMENT)),
    (("作业活动", "作业活动名称", "作业名称", "作业单元", "作业活动/作业步骤"), (5, UnitKind.ACTIVITY)),
):
    for _w in _words:
        UNIT_LEVEL[norm(_w)] = _spec
UNIT_KIND = _set("单元类型", "单元类别", "风险点类型", "类型")
LAST_ASSESSED = _set("最近评估日期", "评估日期", "评价日期", "最近评价日期", "辨识日期", "评估时间", "评价时间",
                     "辨识时间")

EVENT_ID = _set("事件编号", "风险事件编号", "风险编号", "危险源编号", "风险事件代码", "危险有害因素编号",
                "风险事件编码", "危险源代码编号")
EVENT_NAME = _set("风险事件", "风险事件名称", "事件名称", "风险名称", "风险事件描述", "风险描述")
HAZARD = _set("危险有害因素", "危险源", "危险因素", "有害因素", "危险和有害因素", "危险,有害因素",
              "危险有害因素辨识", "主要危险有害因素", "危险源名称", "危险源或潜在事件", "存在的危险有害因素",
              "危险源辨识", "危险源(危险有害因素)", "主要危险源", "危险有害因素描述", "危害因素",
              "危险源/危险有害因素", "危险有害因素名称", "风险因素", "危险源(点)")
HAZARD_CODE = _set("危险有害因素代码", "因素代码", "危险因素代码", "危险有害因素分类代码", "分类代码", "因素分类代码",
                   "GB/T13861代码", "危险有害因素类别代码")
ACCIDENT = _set("事故类型", "可能导致的事故类型", "可能发生的事故类型", "事故类别", "可能导致的事故",
                "可能导致的事故类别", "可能发生的事故", "事故类型(GB6441-1986)", "易导致的事故类型",
                "可能造成的事故类型", "导致事故类型", "可能引发的事故类型", "可能导致事故类型", "事故类型(GB6441)")
CAUSE = _set("原因", "事故原因", "产生原因", "触发原因", "致因", "原因分析", "可能原因", "主要原因",
             "危险有害因素产生原因", "风险产生原因", "事故致因", "触发条件")
CONSEQUENCE = _set("可能导致的后果", "事故后果", "后果描述", "可能造成的后果", "可能产生的后果", "主要后果",
                   "可能导致的事故后果", "后果及影响", "可能后果")
IMPACT = _set("影响范围", "影响区域", "波及范围", "可能影响范围", "影响的范围")
LOCATION = _set("位置", "所在位置", "具体位置", "部位", "风险位置", "场所部位", "场所/部位/环节",
                "位置(场所/部位/环节)", "所在部位", "所在场所", "作业场所/部位", "危险源位置", "场所,部位,环节",
                "风险所在位置", "场所/部位", "区域位置")
METHOD = _set("评价方法", "风险评价方法", "评估方法", "方法", "分析方法", "评价方法(LEC/LS)", "风险评估方法")
EXISTING = _set("现有控制措施", "现有措施", "现有安全措施", "现有管控措施", "已有措施", "现有防护措施",
                "已采取的措施", "现有安全控制措施", "现有风险控制措施", "现有安全设施", "现有安全防护措施")
EFFECTIVENESS = _set("现有措施有效性", "措施有效性", "有效性", "现有控制措施有效性", "控制措施有效性",
                     "现有措施的有效性", "现有控制措施的有效性", "措施的有效性")
EMERGENCY = _set("应急措施", "应急处置措施", "应急处置方法", "应急处置对策", "应急对策", "应急处置")
DIRECT = _set("直接判定", "直接判定依据", "直接判定规则", "直接判定为重大风险", "直接判定条件", "直接判定情形",
              "直接判定为重大风险的情形")
OVERRIDE_LEVEL = _set("调整等级", "调整后等级", "人工调整等级", "强制等级", "调整后风险等级")
OVERRIDE_REASON = _set("调整理由", "调整原因", "调整说明")
OVERRIDE_RULE = _set("调整规则", "调整依据")
CONTROL = _set("管控措施", "控制措施", "风险管控措施", "风险控制措施", "管控措施内容", "措施内容", "主要管控措施",
               "建议管控措施", "措施", "控制措施内容", "需采取的措施", "建议措施", "建议改进措施", "改进措施",
               "管控措施描述", "安全管控措施")
CONTROL_CLASS_FLAT = _set("工程技术措施", "工程控制措施", "管理措施", "培训教育措施", "教育培训措施", "个体防护措施",
                          "个人防护措施", "工程技术", "管理", "培训教育", "教育培训", "个体防护", "个人防护",
                          "工程控制", "管理控制")
CONTROL_CLS = _set("措施类别", "措施分类", "类别", "措施类型", "管控措施类别", "管控措施分类", "措施类别代码")
TIER = _set("管控层级", "管控级别", "控制层级", "层级", "管控层次", "管控主体", "责任层级", "管控层级(责任主体)")
DEPARTMENT = _set("责任部门", "管控部门", "责任单位", "管控责任部门", "主管部门", "管控责任单位", "负责部门",
                  "责任部门(单位)", "管控单位")
PERSON = _set("责任人", "管控责任人", "负责人", "责任人员", "管控人", "管控责任人员", "责任人姓名", "管控负责人")

LEVEL = _set("风险等级", "风险级别", "风险分级", "等级", "级别", "评价级别", "风险等级(颜色)", "评价等级",
             "风险评价等级", "风险级别(颜色)", "评估等级", "风险评价级别", "风险等级评定")
LEVEL_COLOUR = _set("颜色", "风险颜色", "色标", "四色", "颜色标识", "风险色标")
SCORE = _set("风险值", "风险度", "风险分值", "危险性分值", "风险值D", "D值", "风险值R", "危险值", "分值",
             "风险大小", "风险值(D)", "风险值(R)", "危险性大小", "危险性D")
L_WORDS = _set("可能性", "发生的可能性", "事故发生的可能性", "发生可能性", "可能性大小", "事件发生的可能性",
               "可能性等级", "事故发生可能性", "可能性(L)")
E_WORDS = _set("暴露频繁程度", "暴露频率", "暴露于危险环境的频繁程度", "人员暴露频繁程度", "暴露频次",
               "频繁程度", "暴露时间", "暴露于危险环境频繁程度", "人员暴露于危险环境的频繁程度")
# Severity words mean C in LEC and S in LS; decided per sheet by whether an E column exists.
SEVERITY = _set("严重性", "严重程度", "后果严重性", "后果严重程度", "事故后果严重性", "后果严重度",
                "可能出现的后果", "后果", "事故严重程度", "严重度")
S_DIMENSIONS = {norm(w): k for w, k in (
    ("法律法规", "S1"), ("法律法规及其他要求", "S1"), ("法律法规符合性", "S1"), ("人员伤亡", "S2"),
    ("人员", "S2"), ("人身伤害", "S2"), ("直接经济损失", "S3"), ("经济损失", "S3"), ("财产损失", "S3"),
    ("停工", "S4"), ("停工时间", "S4"), ("停产", "S4"), ("企业形象", "S5"), ("形象", "S5"),
    ("社会影响", "S5"), ("企业形象(社会影响)", "S5"))}

INHERENT_HINT = ("固有",)
RESIDUAL_HINT = ("现有", "剩余", "残余", "现状")
EVAL_GROUP_HINT = ("评价", "评估", "风险分析", "固有风险", "现有风险", "剩余风险", "残余风险", "lec", "ls",
                   "危险性", "风险值", "风险分级")
SEVERITY_GROUP_HINT = ("严重", "后果")
CONTROL_GROUP_HINT = ("措施",)

# Unit sheet (评估单元)
U_ID = _set("单元编号", "编号", "评估单元编号", "代码", "单元代码", "风险点编号", "id")
U_NAME = _set("单元名称", "名称", "评估单元", "评估单元名称", "风险点名称", "风险点", "name")
U_KIND = _set("单元类型", "类型", "单元类别", "kind")
U_PARENT = _set("上级单元编号", "上级单元", "上级编号", "父单元", "上级单元代码", "所属单元", "所属单元编号",
                "上级", "parent")
U_FEATURE = _set("关联图层要素", "图层要素", "要素", "关联要素", "图形要素", "平面图要素", "图元", "feature",
                 "关联平面图要素")
U_GEOMETRY = _set("几何(GeoJSON)", "几何", "GeoJSON", "空间位置", "geometry", "几何(GeoJSON,经纬度)")
U_WEIGHT = _set("权重", "人数", "暴露人数", "权重(人数)", "weight")
U_WORK = _set("作业内容", "工作内容", "work_content")
U_PLACE = _set("作业场所", "工作场所", "作业地点", "workplace")
U_PEOPLE = _set("重大危险源500米内人数", "500米内人数", "周边500米人数", "500m内人数", "重大危险源周边500米内人数",
                "500米范围内人数", "500米内人员数", "people_500m")

# Substance sheet (重大危险源物质); q and Q differ only by case, so matching here keeps case.
S_UNIT = frozenset(norm(w, False) for w in ("单元编号", "评估单元编号", "重大危险源单元编号"))
S_NAME = frozenset(norm(w, False) for w in ("物质名称", "危险化学品名称", "名称", "物质", "化学品名称"))
S_QTY = frozenset(norm(w, False) for w in ("实际存在量q", "实际存在量", "q", "实际存在量(q)", "存在量q", "最大存在量"))
S_CRIT = frozenset(norm(w, False) for w in ("临界量Q", "临界量", "Q", "临界量(Q)"))
S_CAT = frozenset(norm(w, False) for w in ("类别", "物质类别", "危险类别", "category", "β类别", "校正系数类别"))
S_BETA = frozenset(norm(w, False) for w in ("校正系数β", "β", "beta", "校正系数", "β值"))

ENTERPRISE_KEYS = {norm(w): k for w, k in (
    ("企业名称", "name"), ("单位名称", "name"), ("企业编号", "id"), ("企业简称", "short_name"), ("简称", "short_name"),
    ("监管电话", "supervision_phone"), ("监督电话", "supervision_phone"), ("监督举报电话", "report_phone"),
    ("举报电话", "report_phone"), ("应急电话", "emergency_phone"), ("应急救援电话", "emergency_phone"),
    ("默认评价方法", "profile"), ("评价方法", "profile"))}

_LETTER_ONLY = re.compile(r"^([lecsdr])([1-5]?)$")
_LETTER_PAREN = re.compile(r"\(([lecsdr])([1-5]?)\)$")
_LETTER_TAIL = re.compile(r"[\u4e00-\u9fff]([lecsdr])([1-5]?)$")
_LETTER_HEAD = re.compile(r"^([lecsdr])([1-5]?)(?:[\u4e00-\u9fff(]|$)")
_FORMULA_HEAD = re.compile(r"^([dr])=")
_INPUT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")


def letter_of(leaf: str) -> str | None:
    """The LEC/LS letter a header names, upper case (L, E, C, S, S1..S5, D, R), if any."""
    for pattern in (_FORMULA_HEAD, _LETTER_ONLY, _LETTER_PAREN, _LETTER_TAIL, _LETTER_HEAD):
        m = pattern.search(leaf)
        if m:
            return "".join(m.groups(default="")).upper()
    return None


@dataclass
class Column:
    """One sheet column and what it holds, as the header classifiers decided; `label` is how messages name it."""

    index: int                 # 0-based column in the sheet
    label: str                 # header path as written, "风险评价/L"
    field: str | None          # what it holds (None: not ours, ignored)
    key: str | None = None     # input name, control class label, or the enterprise key
    which: str = "residual"    # residual / inherent for evaluation columns
    order: int = 0             # unit path position for unit columns
    kind: UnitKind | None = None


def _has(texts: list[str], hints: tuple[str, ...]) -> bool:
    return any(h in t for t in texts for h in hints)


def classify_event_column(index: int, path: list[str]) -> Column:  # noqa: C901 — the headings of 表B/表C, case by case
    """What one column of a 表B/表C sheet holds."""
    label = "/".join(display(p) for p in path)
    leaf = norm(path[-1])
    groups = [norm(p) for p in path[:-1]]
    col = Column(index, label, None)
    inherent = _has([leaf, *groups], INHERENT_HINT)
    col.which = "inherent" if inherent else "residual"
    in_eval = _has(groups, EVAL_GROUP_HINT + INHERENT_HINT + RESIDUAL_HINT)
    in_control = _has(groups, CONTROL_GROUP_HINT) and not in_eval
    in_severity = (_has(groups, SEVERITY_GROUP_HINT) or any(letter_of(g) == "S" for g in groups)) \
        and not in_control

    def field(name: str, key: str | None = None) -> Column:
        col.field, col.key = name, key
        return col

    if leaf in SEQ and not groups:
        return field("seq")
    if leaf in IGNORED or "2025" in leaf and "事故" in leaf:
        return field("ignored")
    if any(g in EXISTING for g in groups):
        return field("existing_part", display(path[-1]))
    if in_control:
        if leaf in TIER:
            return field("tier")
        if leaf in DEPARTMENT:
            return field("department")
        if leaf in PERSON:
            return field("person")
        if leaf in CONTROL_CLS:
            return field("control_class")
        if leaf in CONTROL:
            return field("control")
        return field("control_column", display(path[-1]))
    # evaluation letters and words
    letter = letter_of(leaf)
    if in_severity and leaf in S_DIMENSIONS:
        return field("input", S_DIMENSIONS[leaf])
    if letter is not None and not _is_known_non_eval(leaf):
        if letter in ("D", "R"):
            return field("score")
        return field("input", letter)
    if leaf in L_WORDS:
        return field("input", "L")
    if leaf in E_WORDS:
        return field("input", "E")
    if leaf in SEVERITY and (in_eval or in_severity):
        return field("severity")
    if leaf in SCORE:
        return field("score")
    if leaf in LEVEL or ("等级" in leaf and (inherent or _has([leaf], RESIDUAL_HINT)) and "调整" not in leaf):
        return field("level")
    if leaf in LEVEL_COLOUR:
        return field("level_colour")
    if in_eval and _INPUT_NAME.fullmatch(display(path[-1])) and not _is_known_non_eval(leaf):
        return field("input", display(path[-1]))
    if leaf in UNIT_ID:
        return field("unit_id")
    if leaf in UNIT_NAME:
        return field("unit_name")
    if leaf in UNIT_LEVEL:
        col.order, col.kind = UNIT_LEVEL[leaf]
        return field("unit_level")
    if leaf in ("编号", "代码", "编码", "名称") and groups:
        g = groups[-1]
        is_id = leaf != "名称"
        if g in UNIT_NAME or g in UNIT_LEVEL:
            if is_id:
                return field("unit_id")
            if g in UNIT_LEVEL:
                col.order, col.kind = UNIT_LEVEL[g]
                return field("unit_level")
            return field("unit_name")
        if g in EVENT_NAME or g in HAZARD:
            return field("event_id" if is_id else ("name" if g in EVENT_NAME else "hazard_factor"))
    for vocab, name in ((UNIT_KIND, "unit_kind"), (LAST_ASSESSED, "last_assessed"), (EVENT_ID, "event_id"),
                        (EVENT_NAME, "name"), (HAZARD, "hazard_factor"), (HAZARD_CODE, "hazard_code"),
                        (ACCIDENT, "accident_type"), (CAUSE, "cause"), (CONSEQUENCE, "consequence"),
                        (IMPACT, "impact_range"), (LOCATION, "location"), (METHOD, "method"),
                        (EXISTING, "existing_measures"), (EFFECTIVENESS, "measure_effectiveness"),
                        (EMERGENCY, "emergency_measures"), (DIRECT, "direct_rules"),
                        (OVERRIDE_LEVEL, "override_level"), (OVERRIDE_REASON, "override_reason"),
                        (OVERRIDE_RULE, "override_rule"), (CONTROL, "control"), (CONTROL_CLS, "control_class"),
                        (TIER, "tier"), (DEPARTMENT, "department"), (PERSON, "person")):
        if leaf in vocab:
            return field(name)
    if leaf in CONTROL_CLASS_FLAT:
        return field("control_column", display(path[-1]))
    if leaf in SEVERITY:
        return field("severity")
    return col


def _is_known_non_eval(leaf: str) -> bool:
    return any(leaf in v for v in (SEQ, IGNORED, UNIT_ID, UNIT_NAME, HAZARD, ACCIDENT, METHOD, EXISTING,
                                   EFFECTIVENESS, CONTROL, DEPARTMENT, PERSON, TIER, DIRECT, EVENT_NAME,
                                   EVENT_ID, CAUSE, CONSEQUENCE, LOCATION, IMPACT, EMERGENCY))


def resolve_severity(columns: list[Column]) -> None:
    """严重性/后果 means C where the same evaluation has an E column, S where it has L but no E, else text."""
    for col in columns:
        if col.field != "severity":
            continue
        keys = {c.key for c in columns if c.field == "input" and c.which == col.which}
        if "E" in keys and "C" not in keys:
            col.field, col.key = "input", "C"
        elif "L" in keys and "S" not in keys and "E" not in keys:
            col.field, col.key = "input", "S"
        else:
            col.field = "consequence" if norm(col.label.split("/")[-1]) == norm("后果") else None


def classify_unit_column(index: int, path: list[str]) -> Column:
    """What one column of a unit sheet holds (field None for a column riskmap does not read)."""
    label = "/".join(display(p) for p in path)
    leaf = norm(path[-1])
    col = Column(index, label, None)
    for vocab, name in ((U_ID, "id"), (U_NAME, "name"), (U_KIND, "kind"), (U_PARENT, "parent"),
                        (U_FEATURE, "feature"), (U_GEOMETRY, "geometry"), (U_WEIGHT, "weight"),
                        (DEPARTMENT, "department"), (PERSON, "responsible_person"),
                        (LAST_ASSESSED, "last_assessed"), (U_WORK, "work_content"), (U_PLACE, "workplace"),
                        (OVERRIDE_LEVEL, "override_level"), (OVERRIDE_REASON, "override_reason"),
                        (OVERRIDE_RULE, "override_rule"), (U_PEOPLE, "people_500m")):
        if leaf in vocab:
            col.field = name
            return col
    return col


def classify_substance_column(index: int, path: list[str]) -> Column:
    """What one column of a substance sheet holds; headers are compared with case kept, since q and Q differ."""
    label = "/".join(display(p) for p in path)
    leaf = norm(path[-1], False)
    col = Column(index, label, None)
    for vocab, name in ((S_UNIT, "unit_id"), (S_NAME, "name"), (S_QTY, "q"), (S_CRIT, "Q"), (S_CAT, "category"),
                        (S_BETA, "beta")):
        if leaf in vocab or leaf.casefold() in {v.casefold() for v in vocab if len(v) > 1}:
            col.field = name
            return col
    return col


_ANY_HEADER = (SEQ | UNIT_ID | UNIT_NAME | frozenset(UNIT_LEVEL) | UNIT_KIND | EVENT_ID | EVENT_NAME | HAZARD
               | HAZARD_CODE | ACCIDENT | CAUSE | CONSEQUENCE | IMPACT | LOCATION | METHOD | EXISTING | EFFECTIVENESS
               | EMERGENCY | DIRECT | CONTROL | CONTROL_CLASS_FLAT | CONTROL_CLS | TIER | DEPARTMENT | PERSON | LEVEL
               | SCORE | L_WORDS | E_WORDS | SEVERITY | frozenset(S_DIMENSIONS) | U_ID | U_NAME | U_KIND | U_PARENT
               | U_FEATURE | U_GEOMETRY | U_WEIGHT | U_PEOPLE | LAST_ASSESSED | OVERRIDE_LEVEL | OVERRIDE_REASON
               | frozenset(s.casefold() for s in S_NAME | S_QTY | S_CRIT | S_CAT | S_BETA))


def header_hits(values: list) -> int:
    """How many cells of a row read as known column headers (to find the header rows)."""
    hits = 0
    for v in values:
        if isinstance(v, str) and v.strip():
            t = norm(v)
            if t in _ANY_HEADER or (len(t) <= 3 and letter_of(t)):
                hits += 1
    return hits
