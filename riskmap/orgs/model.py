"""The organisations' records and their rules: an enterprise's profile, a chemical park, a regulator, and a
supervision record (挂牌督办) of a major hazard.

- An enterprise belongs to one division (GB/T 2260, any level the table has) and at most one park; the park must lie
  in the enterprise's division or the enterprise in the park's (one line from province to county: a county's park
  for an enterprise of that county, or of a city recorded only to the city).
- A regulator oversees a division (province, city or county: its level is the division's) or a park (level park).
- A supervision record names a major hazard of an enterprise in the regulator's scope, the level of the supervision
  (province, city, county), the document number of the notice, a deadline and a status (listed → lifted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from riskmap.errors import InputError
from riskmap.orgs import divisions
from riskmap.orgs.codes import check_credit_code, check_hazchem_code

REGULATOR_LEVELS = ("province", "city", "county", "park")
REGULATOR_LEVEL_ZH = {"province": "省级", "city": "市级", "county": "县级", "park": "园区"}
SUPERVISION_LEVELS = ("province", "city", "county")
SUPERVISION_STATUSES = ("listed", "lifted")          # 挂牌督办中 / 已摘牌
SUPERVISION_STATUS_ZH = {"listed": "挂牌督办中", "lifted": "已摘牌"}
MAX_TEXT = 200
MAX_ADDRESS = 500


def clean_text(value: str | None, what_zh: str, what_en: str, limit: int = MAX_TEXT,
               required: bool = False) -> str | None:
    """Text stripped, None when blank (InputError when `required`), refused when too long or with control
    characters."""
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if not text:
        if required:
            raise InputError(f"缺少{what_zh} / {what_en} is missing")
        return None
    if len(text) > limit or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InputError(f"{what_zh}过长或含控制字符（最多 {limit} 字）/ {what_en} is too long or holds control "
                         f"characters (at most {limit})")
    return text


def check_location(lon: float | None, lat: float | None) -> tuple[float, float] | None:
    """A lon/lat pair inside China's extent (73–136 E, 3–54 N), or None when both are missing."""
    if lon is None and lat is None:
        return None
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InputError("位置应为经度和纬度两个数 / a location is two numbers, lon and lat") from None
    if not (math.isfinite(x) and math.isfinite(y)) or not (73 <= x <= 136 and 3 <= y <= 54):
        raise InputError(f"位置 {x:g}, {y:g} 不在中国境内（经度 73–136，纬度 3–54）/ the location {x:g}, {y:g} is not "
                         "in China (lon 73–136, lat 3–54)")
    return x, y


@dataclass(frozen=True)
class Profile:
    """An enterprise's profile (its name is the enterprise's name)."""

    credit_code: str | None
    hazchem_code: str | None
    industry: str | None
    address: str | None
    lon: float | None
    lat: float | None
    division_code: str
    park: str | None = None


def check_profile(*, division_code: str, credit_code: str | None = None, hazchem_code: str | None = None,
                  industry: str | None = None, address: str | None = None, lon: float | None = None,
                  lat: float | None = None, park: str | None = None) -> Profile:
    """A profile with every field checked (the park's division is checked by `check_park_fits` once it is known)."""
    code = divisions.division(division_code).code
    where = check_location(lon, lat)
    return Profile(credit_code=check_credit_code(credit_code) if credit_code not in (None, "") else None,
                   hazchem_code=check_hazchem_code(hazchem_code),
                   industry=clean_text(industry, "行业", "the industry"),
                   address=clean_text(address, "地址", "the address", MAX_ADDRESS),
                   lon=where[0] if where else None, lat=where[1] if where else None, division_code=code,
                   park=clean_text(park, "园区名称", "the park's name"))


def check_park_fits(enterprise_division: str, park: str, park_division: str) -> None:
    """InputError when an enterprise's division does not lie in its park's division."""
    if not (divisions.within(enterprise_division, park_division)
            or divisions.within(park_division, enterprise_division)):
        raise InputError(f"园区 “{park}” 在 {divisions.full_name(park_division)}（{park_division}），企业在 "
                         f"{divisions.full_name(enterprise_division)}（{enterprise_division}）："
                         "企业不在园区所在的行政区划内 / "
                         f"the park {park!r} lies in division {park_division}, the enterprise in "
                         f"{enterprise_division}: not inside the park's division")


def check_regulator(*, level: str, division_code: str | None, park: str | None) -> tuple[str, str | None]:
    """A regulator's level and division: a park regulator names a park (its level "park"), any other a division
    whose level is the regulator's level."""
    level = (level or "").strip().lower()
    if level not in REGULATOR_LEVELS:
        raise InputError(f"监管层级应为 {'、'.join(REGULATOR_LEVELS)} / a regulator's level is one of "
                         f"{', '.join(REGULATOR_LEVELS)}")
    if level == "park":
        if not park or division_code:
            raise InputError("园区监管机构只指定园区，不指定行政区划 / a park's regulator names a park and no division")
        return level, None
    if park:
        raise InputError("只有园区级监管机构指定园区 / only a park-level regulator names a park")
    found = divisions.division(division_code)
    if found.level != level:
        raise InputError(f"{found.name}（{found.code}）是{divisions.LEVEL_ZH[found.level]}行政区划，不是"
                         f"{REGULATOR_LEVEL_ZH[level]} / {found.code} is a {found.level}, not a {level}")
    return level, found.code


@dataclass(frozen=True)
class Supervision:
    """A supervision record (挂牌督办) of a major hazard, as checked."""

    level: str
    document_number: str
    deadline: date
    status: str
    note: str | None = None


def check_supervision(*, level: str, document_number: str, deadline: date | str, status: str = "listed",
                      note: str | None = None) -> Supervision:
    """A supervision record with its fields checked."""
    level = (level or "").strip().lower()
    if level not in SUPERVISION_LEVELS:
        raise InputError(f"督办级别应为 {'、'.join(SUPERVISION_LEVELS)} / a supervision level is one of "
                         f"{', '.join(SUPERVISION_LEVELS)}")
    number = clean_text(document_number, "督办文号", "the document number", 100, required=True)
    if isinstance(deadline, str):
        try:
            deadline = date.fromisoformat(deadline.strip())
        except ValueError:
            raise InputError(f"整改期限应为日期（如 2026-12-31），现为 {deadline[:20]!r} / a deadline is a date "
                             f"(2026-12-31), got {deadline[:20]!r}") from None
    if not isinstance(deadline, date):
        raise InputError("缺少整改期限 / the deadline is missing")
    status = check_status(status)
    return Supervision(level=level, document_number=number, deadline=deadline, status=status,
                       note=clean_text(note, "说明", "the note", 2000))


def check_status(status: str | None) -> str:
    """A supervision status (listed, lifted)."""
    key = (status or "").strip().lower()
    if key not in SUPERVISION_STATUSES:
        raise InputError(f"督办状态应为 {'、'.join(SUPERVISION_STATUSES)} / a supervision status is one of "
                         f"{', '.join(SUPERVISION_STATUSES)}")
    return key
