"""Criteria profiles: evaluation methods as data (value sets, bands, boundary convention, overrides).

Built-in profiles live in `riskmap/criteria/profiles/*.yaml`; users add their own from a directory or a
single YAML file (search dirs, then $RISKMAP_PROFILES_DIR, then the built-ins: a user profile named like a
built-in one shadows it). A profile may `extends:` another and change only some keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from riskmap.criteria.numbers import format_decimal, to_decimal
from riskmap.errors import InputError
from riskmap.levels import Level

_HERE = Path(__file__).resolve().parent
BUILTIN_DIR = _HERE / "profiles"
DIRECT_RULES_FILE = _HERE / "direct_rules.yaml"
PROFILES_ENV = "RISKMAP_PROFILES_DIR"
BOUNDARIES = ("higher", "lower")
_SUFFIXES = (".yaml", ".yml")

PathLike = str | os.PathLike


@dataclass(frozen=True, eq=False)
class Dimension:
    """One of the scores whose maximum gives an input (e.g. S1..S5 → S)."""

    key: str
    zh: str = ""
    en: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class InputSpec(Dimension):
    """An input of a method: a named score (key, names, aliases as a Dimension) with the values it may take, or
    the dimensions whose maximum it is."""

    values: tuple[Decimal, ...] = ()
    labels: dict[Decimal, str] = field(default_factory=dict)
    max_of: tuple[Dimension, ...] = ()

    def allowed_zh(self) -> str:
        """The allowed values joined for a Chinese message, e.g. "10、6、3"; empty for an input without a fixed set."""
        return "、".join(format_decimal(v) for v in self.values)

    def allowed_en(self) -> str:
        """The allowed values joined for an English message, e.g. "10, 6, 3"."""
        return ", ".join(format_decimal(v) for v in self.values)

    def label(self, value: Decimal) -> str | None:
        """The meaning of a value as the method's table gives it (10 → 完全可以预料), None when the profile has none."""
        return self.labels.get(value)

    def display(self) -> str:
        """How messages name the input: its key with the Chinese name, e.g. "L（可能性）", or the bare key."""
        return f"{self.key}（{self.zh}）" if self.zh else self.key


@dataclass(frozen=True, eq=False)
class Band:
    """A score band, from its lower edge `threshold` (None for the lowest band) up to the next band."""

    level: Level
    threshold: Decimal | None = None
    grade: int | None = None
    label: str | None = None


@dataclass(frozen=True, eq=False)
class DirectRule:
    """A direct-determination rule (直接判定为重大风险)."""

    name: str
    zh: str
    en: str = ""
    short_zh: str = ""


@dataclass(frozen=True, eq=False)
class Profile:
    """An evaluation method as data (load it with load_profile): inputs, bands from the highest level down, and
    whether a score on a band edge belongs to the band above ("higher") or below ("lower")."""

    name: str
    method: str
    inputs: tuple[InputSpec, ...]
    bands: tuple[Band, ...]
    boundary: str = "higher"
    title: str = ""
    title_en: str = ""
    short_name: str = ""
    score_key: str = "score"
    score_zh: str = "风险值"
    allow_outside_values: bool = False
    direct_enabled: bool = True
    major_hazard_enabled: bool = True
    direct_rules: dict[str, DirectRule] = field(default_factory=dict)
    source: str = ""
    # weighted region method: never more than one level below the region's highest unit
    cap_below_highest: bool = True
    # how long an assessment stays valid before a re-assessment is due (the "overdue" flag)
    reassessment_months: int = 12

    @property
    def display_name(self) -> str:
        """The method's name on reports and prints: the short name, else the method upper-cased (LEC)."""
        return self.short_name or self.method.upper()

    def band_for(self, score: Decimal) -> Band:
        """The band of a score; the boundary convention is the profile's, never an accident of > vs >=."""
        for band in self.bands:
            if band.threshold is None:
                return band
            if self.boundary == "higher" and score >= band.threshold:
                return band
            if self.boundary == "lower" and score > band.threshold:
                return band
        return self.bands[-1]  # unreachable: the last band has no threshold

    def band_text(self, band: Band) -> str:
        """The band as a range, e.g. "160 ≤ D < 320" (higher) or "160 < D ≤ 320" (lower)."""
        index = self.bands.index(band)
        upper = self.bands[index - 1].threshold if index > 0 else None
        lower = band.threshold
        key = self.score_key
        low_op, high_op = ("≤", "<") if self.boundary == "higher" else ("<", "≤")
        if lower is None and upper is None:
            return f"任意 {key}"
        if upper is None:
            return f"{key} {'≥' if self.boundary == 'higher' else '>'} {format_decimal(lower)}"
        if lower is None:
            return f"{key} {high_op} {format_decimal(upper)}"
        return f"{format_decimal(lower)} {low_op} {key} {high_op} {format_decimal(upper)}"

    def input_lookup(self) -> dict[str, tuple[InputSpec, Dimension | None]]:
        """Every accepted input name (key or alias, case-insensitive) → its input and dimension."""
        return _lookup(self)

    def rule(self, name: str) -> DirectRule:
        """A direct rule by name, short Chinese name, full Chinese text or number (1-based)."""
        text = str(name).strip()
        if text in self.direct_rules:
            return self.direct_rules[text]
        for index, rule in enumerate(self.direct_rules.values(), start=1):
            if text.lower() in (rule.name.lower(), rule.short_zh, rule.zh, str(index)):
                return rule
        allowed_zh = "、".join(f"{r.name}（{r.short_zh or r.zh}）" for r in self.direct_rules.values())
        allowed_en = ", ".join(self.direct_rules)
        raise InputError(f"未知的直接判定规则 “{text}”，可选：{allowed_zh} / "
                         f"unknown direct-determination rule {text!r}; allowed: {allowed_en}",
                         details=[{"input": "direct_rules", "value": text, "allowed": list(self.direct_rules)}])


@lru_cache(maxsize=64)
def _lookup(profile: Profile) -> dict[str, tuple[InputSpec, Dimension | None]]:
    table: dict[str, tuple[InputSpec, Dimension | None]] = {}
    for spec in profile.inputs:
        for word in _names(spec.key, spec.zh, spec.aliases):
            table[word.lower()] = (spec, None)
        for dim in spec.max_of:
            for word in _names(dim.key, dim.zh, dim.aliases):
                table[word.lower()] = (spec, dim)
    return table


def _names(key: str, zh: str, aliases: tuple[str, ...]) -> list[str]:
    """Key, Chinese name and aliases, each once (a Chinese name may also be listed as an alias)."""
    out: list[str] = []
    for word in (key, zh, *aliases):
        if word and word.lower() not in (w.lower() for w in out):
            out.append(word)
    return out


# ---------------------------------------------------------------- reading YAML

def _bad(source: str, zh: str, en: str) -> InputError:
    return InputError(f"准则配置 {source} 有误：{zh} / criteria profile {source} is invalid: {en}")


@lru_cache(maxsize=128)
def _read_yaml(path: str, mtime: float) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())  # YAML errors span lines; users read one
        raise InputError(f"无法读取准则配置文件 {path}：{reason} / cannot read criteria profile file {path}: "
                         f"{reason}") from None


def _load_file(path: Path) -> Any:
    return _read_yaml(str(path), path.stat().st_mtime)


def _entries_of_file(path: Path) -> list[tuple[str, dict, str]]:
    """(name, raw mapping, source) of each profile in one YAML file: one mapping or {"profiles": [...]}."""
    data = _load_file(path)
    if isinstance(data, dict) and isinstance(data.get("profiles"), list):
        items = data["profiles"]
    elif isinstance(data, dict):
        items = [data]
    else:
        raise _bad(str(path), "文件内容应为一个配置（映射）", "the file must hold a mapping")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(str(path), f"第 {i + 1} 个配置不是映射", f"entry {i + 1} is not a mapping")
        name = item.get("name") or (path.stem if len(items) == 1 else None)
        if not name:
            raise _bad(str(path), f"第 {i + 1} 个配置缺少 name", f"entry {i + 1} has no name")
        out.append((str(name), {**item, "name": str(name)}, f"{path}" if len(items) == 1 else f"{path}#{name}"))
    return out


def _entries_of_location(location: Path) -> list[tuple[str, dict, str]]:
    if location.is_file():
        return _entries_of_file(location)
    if location.is_dir():
        out = []
        for path in sorted(location.iterdir()):
            if path.suffix.lower() in _SUFFIXES and not path.name.startswith(("_", ".")) and path.is_file():
                out.extend(_entries_of_file(path))
        return out
    return []


def _env_locations() -> list[Path]:
    value = os.environ.get(PROFILES_ENV, "")
    return [Path(p) for p in value.split(os.pathsep) if p.strip()]


def _locations(search_dirs: PathLike | Iterable[PathLike] | None) -> list[Path]:
    if search_dirs is None:
        given: list[Path] = []
    elif isinstance(search_dirs, str | os.PathLike):
        given = [Path(search_dirs)]
    else:
        given = [Path(p) for p in search_dirs]
    for loc in given:
        if not loc.exists():
            raise InputError(f"准则配置目录或文件不存在：{loc} / criteria profile location not found: {loc}")
    return [*given, *_env_locations(), BUILTIN_DIR]


def _find(name: str, locations: Sequence[Path], start: int = 0) -> tuple[dict, str, int] | None:
    """The first profile of that name on the path; a ledger's "LEC" finds "lec" when nothing matches exactly."""
    for same in (str.__eq__, lambda a, b: a.lower() == b.lower()):
        for index in range(start, len(locations)):
            for entry_name, raw, source in _entries_of_location(locations[index]):
                if same(entry_name, name):
                    return raw, source, index
    return None


def _known_names(locations: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for loc in locations:
        for entry_name in sorted(e[0] for e in _entries_of_location(loc)):
            if entry_name not in names:
                names.append(entry_name)
    return names


def _resolve_raw(raw: dict, source: str, index: int, locations: Sequence[Path], seen: tuple = ()) -> dict:
    """Merge a profile onto the profile it extends (a same-named parent is looked up further down)."""
    parent_name = raw.get("extends")
    if not parent_name:
        return dict(raw)
    parent_name = str(parent_name)
    own_name = str(raw.get("name", ""))
    start = index + 1 if parent_name == own_name else 0
    key = (parent_name, start)
    if key in seen or len(seen) > 20:
        raise _bad(source, f"extends 形成循环（{parent_name}）", f"extends makes a cycle ({parent_name})")
    found = _find(parent_name, locations, start)
    if found is None:
        raise _bad(source, f"extends 指向不存在的配置 {parent_name}",
                   f"extends names an unknown profile {parent_name!r}")
    parent = _resolve_raw(found[0], found[1], found[2], locations, (*seen, key))
    merged = dict(parent)
    for k, v in raw.items():
        if k in ("overrides", "aggregate") and isinstance(v, dict) and isinstance(parent.get(k), dict):
            merged[k] = {**parent[k], **v}
        elif k == "direct_rules" and isinstance(v, list) and isinstance(parent.get("direct_rules"), list):
            merged[k] = [*parent["direct_rules"], *v]
        else:
            merged[k] = v
    merged.pop("extends", None)
    return merged


# ---------------------------------------------------------------- building a Profile

def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _aliases(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v).strip() for v in value if str(v).strip())


def _number(value: Any, source: str, where: str) -> Decimal:
    number = to_decimal(value)
    if number is None:
        raise _bad(source, f"{where} 应为数值，实为 {value!r}", f"{where} must be a number, got {value!r}")
    return number


def _direct_rules(raw_rules: Any, source: str) -> dict[str, DirectRule]:
    base = _load_file(DIRECT_RULES_FILE).get("rules", [])
    rules: dict[str, DirectRule] = {}
    for entry in [*base, *(raw_rules or [])]:
        if not isinstance(entry, dict) or not _text(entry.get("name")):
            raise _bad(source, "direct_rules 的每项应有 name", "each direct rule needs a name")
        name = _text(entry["name"])
        old = rules.get(name)
        zh = _text(entry.get("zh")) or (old.zh if old else "")
        if not zh:
            raise _bad(source, f"直接判定规则 {name} 缺少中文说明 zh", f"direct rule {name} has no zh text")
        rules[name] = DirectRule(name, zh, _text(entry.get("en")) or (old.en if old else ""),
                                 _text(entry.get("short_zh")) or (old.short_zh if old else ""))
    return rules


def _input_spec(entry: Any, source: str) -> InputSpec:
    if not isinstance(entry, dict) or not _text(entry.get("key")):
        raise _bad(source, "inputs 的每项应有 key", "each input needs a key")
    key = _text(entry["key"])
    values: list[Decimal] = []
    labels: dict[Decimal, str] = {}
    for item in entry.get("values") or []:
        raw_value, label = (item.get("value"), item.get("zh")) if isinstance(item, dict) else (item, None)
        number = _number(raw_value, source, f"输入 {key} 的取值")
        if number < 0:
            raise _bad(source, f"输入 {key} 的取值不能为负：{raw_value}", f"input {key} has a negative value")
        if number in values:
            raise _bad(source, f"输入 {key} 的取值重复：{raw_value}", f"input {key} repeats value {raw_value}")
        values.append(number)
        if label:
            labels[number] = str(label)
    dims = []
    for dim in entry.get("max_of") or []:
        if not isinstance(dim, dict) or not _text(dim.get("key")):
            raise _bad(source, f"输入 {key} 的 max_of 每项应有 key", f"each max_of entry of {key} needs a key")
        dims.append(Dimension(_text(dim["key"]), _text(dim.get("zh")), _text(dim.get("en")),
                              _aliases(dim.get("aliases"))))
    return InputSpec(key, _text(entry.get("zh")), _text(entry.get("en")), _aliases(entry.get("aliases")),
                     tuple(values), labels, tuple(dims))


def _bands(raw_bands: Any, source: str) -> tuple[Band, ...]:
    if not isinstance(raw_bands, list) or not raw_bands:
        raise _bad(source, "缺少 bands（分级）", "bands are missing")
    bands = []
    for i, entry in enumerate(raw_bands):
        if not isinstance(entry, dict):
            raise _bad(source, f"第 {i + 1} 个分级不是映射", f"band {i + 1} is not a mapping")
        try:
            level = Level.parse(entry.get("level"))
        except ValueError as exc:
            raise _bad(source, f"第 {i + 1} 个分级：{exc}", f"band {i + 1} has a bad level") from None
        threshold = entry.get("threshold")
        threshold = None if threshold is None else _number(threshold, source, f"第 {i + 1} 个分级的 threshold")
        grade = entry.get("grade")
        if grade is not None and (isinstance(grade, bool) or not isinstance(grade, int)):
            raise _bad(source, f"第 {i + 1} 个分级的 grade 应为整数", f"band {i + 1}: grade must be an integer")
        bands.append(Band(level, threshold, grade, _text(entry.get("label")) or None))
    for i, band in enumerate(bands):
        last = i == len(bands) - 1
        if last != (band.threshold is None):
            raise _bad(source, "除最后一个分级外，每个分级都要有 threshold；最后一个分级不要 threshold",
                       "every band but the last needs a threshold; the last has none")
        if i > 0:
            prev = bands[i - 1]
            if not last and band.threshold >= prev.threshold:
                raise _bad(source, "分级应从高到低排列，threshold 严格递减",
                           "bands go from the most dangerous down, thresholds strictly decreasing")
            if band.level.rank > prev.level.rank:
                raise _bad(source, "较低分级的风险等级不能高于较高分级", "a lower band cannot have a higher level")
    grades = [b.grade for b in bands]
    partial = any(g is None for g in grades) or grades != sorted(set(grades))
    if any(g is not None for g in grades) and partial:
        raise _bad(source, "grade 要么全部给出且从 1 起递增，要么都不给",
                   "give every band a strictly increasing grade, or none")
    return tuple(bands)


def _build_checked(raw: dict, source: str) -> Profile:
    """A user's file with a value of the wrong shape (a number where a list belongs) is their error, not ours."""
    try:
        return _build(raw, source)
    except (TypeError, AttributeError, KeyError, ValueError, ArithmeticError) as exc:
        raise _bad(source, f"结构不符合要求（{type(exc).__name__}: {exc}）",
                   f"unexpected structure ({type(exc).__name__}: {exc})") from None


def _build(raw: dict, source: str) -> Profile:
    name = _text(raw.get("name"))
    method = _text(raw.get("method")) or name
    inputs = tuple(_input_spec(e, source) for e in raw.get("inputs") or [])
    if not inputs:
        raise _bad(source, "缺少 inputs（评价输入）", "inputs are missing")
    seen: set[str] = set()
    for spec in inputs:
        words = [*_names(spec.key, spec.zh, spec.aliases),
                 *(w for d in spec.max_of for w in _names(d.key, d.zh, d.aliases))]
        for word in words:
            if word.lower() in seen:
                raise _bad(source, f"输入名称或别名重复：{word}", f"input name or alias repeated: {word}")
            seen.add(word.lower())
    allow_outside = bool(raw.get("allow_outside_values", False))
    for spec in inputs:
        if not spec.values and not allow_outside:
            raise _bad(source, f"输入 {spec.key} 没有取值集合（或设 allow_outside_values: true）",
                       f"input {spec.key} has no value set (or set allow_outside_values: true)")
    boundary = _text(raw.get("boundary") or "higher").lower()
    if boundary not in BOUNDARIES:
        raise _bad(source, f"boundary 应为 higher 或 lower，实为 {boundary}",
                   f"boundary must be higher or lower, got {boundary}")
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise _bad(source, "overrides 应为映射", "overrides must be a mapping")
    unknown = set(overrides) - {"direct", "major_hazard"}
    if unknown:
        raise _bad(source, f"未知的 overrides 项：{', '.join(sorted(unknown))}",
                   f"unknown overrides: {', '.join(sorted(unknown))}")
    aggregate = raw.get("aggregate") or {}
    if not isinstance(aggregate, dict) or set(aggregate) - {"cap_below_highest"}:
        raise _bad(source, "aggregate 只能含 cap_below_highest", "aggregate may only hold cap_below_highest")
    score = raw.get("score") or {}
    if not isinstance(score, dict):
        score = {"key": score}
    months = raw.get("reassessment_months", 12)
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise _bad(source, f"reassessment_months 应为 1 到 120 的整数，而不是 {months!r}",
                   f"reassessment_months must be a whole number 1..120, not {months!r}")
    return Profile(
        name=name,
        method=method,
        inputs=inputs,
        bands=_bands(raw.get("bands"), source),
        boundary=boundary,
        title=_text(raw.get("title")),
        title_en=_text(raw.get("title_en")),
        short_name=_text(raw.get("short_name")) or method.upper(),
        score_key=_text(score.get("key")) or "score",
        score_zh=_text(score.get("zh")) or "风险值",
        allow_outside_values=allow_outside,
        direct_enabled=bool(overrides.get("direct", False)),
        major_hazard_enabled=bool(overrides.get("major_hazard", False)),
        direct_rules=_direct_rules(raw.get("direct_rules"), source),
        source=source,
        cap_below_highest=bool(aggregate.get("cap_below_highest", True)),
        reassessment_months=months,
    )


def _signature(locations: Sequence[Path]) -> tuple:
    sig = []
    for loc in [*locations, DIRECT_RULES_FILE]:
        if loc.is_dir():
            for path in sorted(loc.iterdir()):
                if path.suffix.lower() in _SUFFIXES:
                    sig.append((str(path), path.stat().st_mtime_ns))
        elif loc.is_file():
            sig.append((str(loc), loc.stat().st_mtime_ns))
    return tuple(sig)


def profile_from_dict(raw: dict, source: str = "<dict>", search_dirs=None) -> Profile:
    """A profile from an in-memory mapping (e.g. sent over the API); `extends` looks in the search path."""
    if not isinstance(raw, dict):
        raise _bad(source, "配置应为映射", "a profile must be a mapping")
    if not _text(raw.get("name")):
        raise _bad(source, "缺少 name", "name is missing")
    locations = _locations(search_dirs)
    return _build_checked(_resolve_raw(raw, source, -1, locations), source)


class UnknownProfileError(InputError):
    """No profile of that name on the search path (a ledger may name one this server lacks)."""


def load_profile(name_or_path: str | os.PathLike | Profile,
                 search_dirs: PathLike | Iterable[PathLike] | None = None) -> Profile:
    """A profile by name (search dirs, $RISKMAP_PROFILES_DIR, built-ins) or from a YAML file path.

    Cached until one of the files on the search path changes, so calling it per event costs little.
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    text = str(name_or_path).strip()
    if not text:
        raise InputError("未指定准则配置 / no criteria profile given")
    locations = _locations(search_dirs)
    path = Path(text)
    is_path = path.suffix.lower() in _SUFFIXES or os.sep in text or bool(os.altsep and os.altsep in text)
    if is_path:
        if not path.is_file():
            raise InputError(f"准则配置文件不存在：{text} / criteria profile file not found: {text}")
        signature = (_signature(locations), str(path.resolve()), path.stat().st_mtime_ns)
    else:
        signature = (_signature(locations),)
    return _load_cached(text, is_path, tuple(str(loc) for loc in locations), signature)


@lru_cache(maxsize=128)
def _load_cached(text: str, is_path: bool, location_texts: tuple[str, ...], signature: tuple) -> Profile:
    locations = [Path(loc) for loc in location_texts]
    if is_path:
        entries = _entries_of_file(Path(text))
        if len(entries) != 1:
            names = [e[0] for e in entries]
            raise InputError(f"文件 {text} 含多个准则配置（{'、'.join(names)}），请把文件放进搜索目录后按名称选用 / "
                             f"{text} holds several profiles ({', '.join(names)}); "
                             "add it to the search dirs and pick one by name")
        _name, raw, source = entries[0]
        return _build_checked(_resolve_raw(raw, source, -1, locations), source)
    found = _find(text, locations)
    if found is None:
        known = _known_names(locations)
        raise UnknownProfileError(f"未知的评价准则配置 “{text}”，可选：{'、'.join(known)} / "
                         f"unknown criteria profile {text!r}; available: {', '.join(known)}",
                         details=[{"input": "profile", "value": text, "allowed": known}])
    raw, source, index = found
    return _build_checked(_resolve_raw(raw, source, index, locations), source)


def default_direct_rules() -> dict[str, dict[str, str]]:
    """The shipped direct-determination rules: name → {"zh", "short_zh", "en"} (profiles may add or reword)."""
    return {r.name: {"zh": r.zh, "short_zh": r.short_zh, "en": r.en}
            for r in _direct_rules(None, str(DIRECT_RULES_FILE)).values()}


def list_profiles(search_dirs: PathLike | Iterable[PathLike] | None = None) -> list[str]:
    """Names of every profile on the search path (user ones first, built-ins last), without duplicates."""
    return _known_names(_locations(search_dirs))
