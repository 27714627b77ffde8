"""Major hazard installations (重大危险源), GB 18218-2018: identification Σq/Q ≥ 1 and grading R = α·Σβ·q/Q.

Ratios are kept as exact fractions (q/Q seldom terminates in decimal), so the comparisons with 1, 10, 50
and 100 are exact; the Decimal fields are for display and JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from riskmap.criteria.numbers import format_decimal, fraction_to_decimal, fraction_to_text, to_decimal
from riskmap.errors import InputError

# β correction factors (校正系数β) by category; GB 18218-2018 tables 3 and 4 as listed in DOMAIN.md §4.4.
BETA: dict[str, Decimal] = {
    "explosive": Decimal(2),
    "flammable_gas": Decimal("1.5"),
    "other": Decimal(1),
    "co": Decimal(2),
    "so2": Decimal(2),
    "nh3": Decimal(2),
    "ethylene_oxide": Decimal(2),
    "hcl": Decimal(3),
    "methyl_bromide": Decimal(3),
    "chlorine": Decimal(4),
    "h2s": Decimal(5),
    "hf": Decimal(5),
    "no2": Decimal(10),
    "hcn": Decimal(10),
    "phosgene": Decimal(20),
    "phosphine": Decimal(20),
    "methyl_isocyanate": Decimal(20),
    "toxic_gas": Decimal(2),          # toxic gas not listed by name
    "highly_toxic_gas": Decimal(4),   # highly toxic gas not listed by name
}

CATEGORY_ZH: dict[str, str] = {
    "explosive": "爆炸物",
    "flammable_gas": "易燃气体",
    "other": "其他类别危险化学品",
    "co": "一氧化碳",
    "so2": "二氧化硫",
    "nh3": "氨",
    "ethylene_oxide": "环氧乙烷",
    "hcl": "氯化氢",
    "methyl_bromide": "溴甲烷",
    "chlorine": "氯",
    "h2s": "硫化氢",
    "hf": "氟化氢",
    "no2": "二氧化氮",
    "hcn": "氰化氢",
    "phosgene": "碳酰氯（光气）",
    "phosphine": "磷化氢",
    "methyl_isocyanate": "异氰酸甲酯",
    "toxic_gas": "未列举的毒性气体",
    "highly_toxic_gas": "未列举的剧毒气体",
}

_CATEGORY_ALIASES: dict[str, str] = {
    "爆炸物": "explosive", "explosives": "explosive", "易燃气体": "flammable_gas", "其他": "other",
    "一氧化碳": "co", "二氧化硫": "so2", "氨": "nh3", "液氨": "nh3", "ammonia": "nh3", "环氧乙烷": "ethylene_oxide",
    "氯化氢": "hcl", "溴甲烷": "methyl_bromide", "氯": "chlorine", "氯气": "chlorine", "液氯": "chlorine",
    "硫化氢": "h2s", "氟化氢": "hf", "二氧化氮": "no2", "氰化氢": "hcn", "碳酰氯": "phosgene", "光气": "phosgene",
    "磷化氢": "phosphine", "异氰酸甲酯": "methyl_isocyanate", "未列举的毒性气体": "toxic_gas", "毒性气体": "toxic_gas",
    "未列举的剧毒气体": "highly_toxic_gas", "剧毒气体": "highly_toxic_gas",
}
for _key, _zh in CATEGORY_ZH.items():
    _CATEGORY_ALIASES.setdefault(_zh, _key)

# α by people within 500 m of the installation's boundary: (at least this many people, α), highest first.
ALPHA_TABLE: tuple[tuple[int, Decimal], ...] = (
    (100, Decimal("2.0")),
    (50, Decimal("1.5")),
    (30, Decimal("1.2")),
    (1, Decimal("1.0")),
    (0, Decimal("0.5")),
)

# Grades: (R at least, grade), highest first; below the last threshold the grade is 4.
GRADE_TABLE: tuple[tuple[int, int], ...] = ((100, 1), (50, 2), (10, 3))
GRADE_ZH = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}


@dataclass(frozen=True)
class SubstanceRatio:
    """One substance's share: q and Q in the same unit (tonnes in GB 18218-2018), β, and q/Q as an exact fraction."""

    name: str
    q: Decimal
    Q: Decimal
    beta: Decimal
    category: str | None
    ratio: Fraction


@dataclass(frozen=True)
class MajorHazardResult:
    """Σq/Q, whether the unit is a major hazard installation, α, R and the grade (None when not one)."""

    ratio_sum: Decimal
    is_installation: bool
    alpha: Decimal
    r: Decimal
    grade: int | None
    people_500m: int
    substances: tuple[SubstanceRatio, ...] = field(default_factory=tuple)
    ratio_sum_exact: Fraction = Fraction(0)
    r_exact: Fraction = Fraction(0)

    @property
    def grade_zh(self) -> str | None:
        """The grade as a report prints it (e.g. "一级重大危险源"); None when the unit is not an installation."""
        return None if self.grade is None else f"{GRADE_ZH[self.grade]}重大危险源"

    def reason(self) -> str:
        """The Chinese reason recorded beside a unit forced to major."""
        ratio = fraction_to_text(self.ratio_sum_exact)
        r = fraction_to_text(self.r_exact)
        if not self.is_installation:
            return f"未构成重大危险源（GB 18218-2018）：Σq/Q = {ratio} < 1"
        return (f"构成重大危险源（GB 18218-2018）：Σq/Q = {ratio} ≥ 1，α = {format_decimal(self.alpha)}"
                f"（500 m 内 {self.people_500m} 人），R = α·Σβ·q/Q = {r}，{self.grade_zh}")

    def to_dict(self) -> dict[str, Any]:
        """The result for JSON: every number as plain decimal text, so no float rounding reaches a client."""
        return {
            "ratio_sum": format_decimal(self.ratio_sum),
            "is_installation": self.is_installation,
            "people_500m": self.people_500m,
            "alpha": format_decimal(self.alpha),
            "r": format_decimal(self.r),
            "grade": self.grade,
            "substances": [{"name": s.name, "q": format_decimal(s.q), "Q": format_decimal(s.Q),
                            "beta": format_decimal(s.beta), "category": s.category,
                            "ratio": format_decimal(fraction_to_decimal(s.ratio))} for s in self.substances],
        }


def alpha_for(people_500m: int) -> Decimal:
    """α for the number of people within 500 m (GB 18218-2018): 0.5 for nobody up to 2.0 for 100 or more."""
    for at_least, alpha in ALPHA_TABLE:
        if people_500m >= at_least:
            return alpha
    return ALPHA_TABLE[-1][1]


def grade_for(r: Fraction) -> int:
    """The grade for an exact R: 1 from 100, 2 from 50, 3 from 10, else 4; meaningful only when Σq/Q ≥ 1."""
    for at_least, grade in GRADE_TABLE:
        if r >= at_least:
            return grade
    return 4


def category_key(text: object) -> str:
    """A β category key from its key or Chinese name; InputError listing the categories otherwise."""
    word = str(text).strip()
    key = word.lower().replace(" ", "_").replace("-", "_")
    if key in BETA:
        return key
    if word in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[word]
    allowed_zh = "、".join(f"{k}（{v}）" for k, v in CATEGORY_ZH.items())
    raise InputError(f"未知的危险化学品类别 “{word}”，可选：{allowed_zh}，或直接给出 beta / "
                     f"unknown substance category {word!r}; allowed: {', '.join(BETA)}, or give beta",
                     details=[{"input": "category", "value": word, "allowed": list(BETA)}])


def _positive(value: Any, what_zh: str, what_en: str, allow_zero: bool) -> Decimal:
    number = to_decimal(value)
    if number is None or number < 0 or (number == 0 and not allow_zero):
        need_zh = "非负数" if allow_zero else "正数"
        need_en = "a non-negative number" if allow_zero else "a positive number"
        raise InputError(f"{what_zh} 应为{need_zh}，实为 “{value}” / {what_en} must be {need_en}, got {value!r}",
                         details=[{"input": what_en, "value": str(value)}])
    return number


def _substance(item: Any, index: int) -> SubstanceRatio:
    if not isinstance(item, Mapping):
        raise InputError(f"第 {index} 种危险化学品应为 {{name, q, Q, category 或 beta}} / "
                         f"substance {index} must be a mapping {{name, q, Q, category or beta}}")
    name = str(item.get("name") or f"#{index}")
    where_zh, where_en = f"危险化学品 {name} 的", f"substance {name!r}:"
    if item.get("q") is None or item.get("Q") is None:
        raise InputError(f"{where_zh}实际存在量 q 和临界量 Q 都要给出 / {where_en} both q and Q are required",
                         details=[{"input": "q" if item.get("q") is None else "Q", "substance": name}])
    q = _positive(item.get("q"), f"{where_zh}实际存在量 q", f"{where_en} q", allow_zero=True)
    crit = _positive(item.get("Q"), f"{where_zh}临界量 Q", f"{where_en} Q", allow_zero=False)
    category = item.get("category")
    category = None if category is None or not str(category).strip() else category_key(category)
    beta_raw = item.get("beta")
    if beta_raw is not None and str(beta_raw).strip():
        beta = _positive(beta_raw, f"{where_zh}校正系数 β", f"{where_en} beta", allow_zero=False)
        if category is not None and beta != BETA[category]:
            raise InputError(f"{where_zh}β = {format_decimal(beta)} 与类别 {category} 的 β = "
                             f"{format_decimal(BETA[category])} 不一致 / {where_en} beta {format_decimal(beta)} "
                             f"disagrees with category {category} (beta {format_decimal(BETA[category])})")
    elif category is not None:
        beta = BETA[category]
    else:
        raise InputError(f"{where_zh}类别 category 或校正系数 beta 至少给出一个 / "
                         f"{where_en} give a category or a beta",
                         details=[{"input": "category", "substance": name, "allowed": list(BETA)}])
    return SubstanceRatio(name, q, crit, beta, category, Fraction(q) / Fraction(crit))


def _people(value: Any) -> int:
    number = to_decimal(value)
    if number is None or number < 0 or number != number.to_integral_value():
        raise InputError(f"500 m 内人数应为非负整数，实为 “{value}” / people within 500 m must be a "
                         f"non-negative integer, got {value!r}", details=[{"input": "people_500m"}])
    return int(number)


def major_hazard(substances: Iterable[Mapping[str, Any]], people_500m: int) -> MajorHazardResult:
    """Identify and grade a unit by GB 18218-2018 from its dangerous chemicals and the people around it."""
    if isinstance(substances, Mapping | str | bytes):
        raise InputError("substances 应为列表 / substances must be a list")
    items = [_substance(item, i) for i, item in enumerate(substances, start=1)]
    if not items:
        raise InputError("至少给出一种危险化学品 / give at least one substance")
    people = _people(people_500m)
    ratio_sum = sum((s.ratio for s in items), Fraction(0))
    weighted = sum((Fraction(s.beta) * s.ratio for s in items), Fraction(0))
    alpha = alpha_for(people)
    r = Fraction(alpha) * weighted
    installation = ratio_sum >= 1
    return MajorHazardResult(
        ratio_sum=fraction_to_decimal(ratio_sum), is_installation=installation, alpha=alpha,
        r=fraction_to_decimal(r), grade=grade_for(r) if installation else None, people_500m=people,
        substances=tuple(items), ratio_sum_exact=ratio_sum, r_exact=r)


def major_hazard_from_unit_data(data: Mapping[str, Any]) -> MajorHazardResult:
    """From a unit's `major_hazard` mapping: {"people_500m" (or "alpha_people"), "substances": [...]}."""
    if not isinstance(data, Mapping):
        raise InputError("major_hazard 应为 {people_500m, substances} / major_hazard must be a mapping "
                         "{people_500m, substances}")
    people = data.get("people_500m", data.get("alpha_people"))
    if people is None:
        raise InputError("major_hazard 缺少 500 m 内人数 people_500m / major_hazard: people_500m is missing",
                         details=[{"input": "people_500m"}])
    return major_hazard(data.get("substances") or [], people)
