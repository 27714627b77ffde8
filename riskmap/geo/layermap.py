"""CAD layer name → feature role, the `--layer-map` file.

CAD drawings carry no roles, only layer names that people choose freely ("1-区域边界", "建筑物", "TANK").
A layer map is an ordered list of rules: the first pattern that matches a layer decides its role.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from riskmap.errors import InputError
from riskmap.geo.model import ROLE_ZH, ROLES

# A layer whose features are not wanted (text and annotation layers); its texts still name shapes.
IGNORE = "ignore"
MAP_ROLES: tuple[str, ...] = (*ROLES, IGNORE)

# Chinese role names accepted in map files, so a map can be written without knowing the codes.
_ROLE_ALIASES: dict[str, str] = {zh: role for role, zh in ROLE_ZH.items()}
_ROLE_ALIASES.update({"设备": "equipment", "设施": "equipment", "建筑物": "building", "围栏": "fence",
                      "忽略": IGNORE, "文字": IGNORE, "text": IGNORE})

_GLOB_CHARS = frozenset("*?[")


def _parse_role(value: Any, where: str) -> str:
    text = str(value).strip() if value is not None else ""
    role = text.lower() if text.lower() in MAP_ROLES else _ROLE_ALIASES.get(text, _ROLE_ALIASES.get(text.lower()))
    if role is None:
        allowed = "、".join(MAP_ROLES)
        raise InputError(f"图层映射中的角色“{text}”无法识别（{where}），应为：{allowed} / "
                         f"unknown role {text!r} in the layer map ({where}); allowed: {', '.join(MAP_ROLES)}")
    return role


@dataclass(frozen=True)
class LayerRule:
    """One rule: a plain pattern matches anywhere in the name, a glob pattern must match all of it."""

    pattern: str
    role: str

    def matches(self, folded_layer: str) -> bool:
        """Whether the rule matches a layer name already casefolded by the caller (the map folds each name once)."""
        folded = self.pattern.casefold()
        if _GLOB_CHARS.intersection(folded):
            return fnmatch.fnmatchcase(folded_layer, folded)
        return folded in folded_layer


class LayerMap:
    """Ordered rules, first match wins, case-insensitive; unmatched layers take `default_role`."""

    def __init__(self, rules: Iterable[LayerRule], default_role: str = "other", *, source: str = "default"):
        self.rules: tuple[LayerRule, ...] = tuple(rules)
        self.default_role = default_role
        self.source = source
        self._cache: dict[str, tuple[str, bool]] = {}

    def __repr__(self) -> str:
        return f"LayerMap({len(self.rules)} rules, default_role={self.default_role!r}, source={self.source!r})"

    @classmethod
    def default(cls) -> LayerMap:
        """The built-in rules (layermap_default.yaml beside this module)."""
        text = resources.files("riskmap.geo").joinpath("layermap_default.yaml").read_text(encoding="utf-8")
        return cls.from_data(yaml.safe_load(text), source="default")

    @classmethod
    def load(cls, path: str | Path) -> LayerMap:
        """Read a `--layer-map` file, YAML or JSON."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputError(f"找不到图层映射文件 {path} / layer map file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"无法读取图层映射文件 {path}：{exc} / cannot read layer map {path}: {exc}") from None
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"图层映射文件 {path.name} 格式错误：{detail} / "
                             f"layer map {path.name} is not valid YAML/JSON: {detail}") from None
        return cls.from_data(data, source=str(path))

    @classmethod
    def from_data(cls, data: Any, *, source: str = "inline") -> LayerMap:
        """Build from `{"rules": [{"pattern", "role"}, ...], "default_role": ...}` or `{pattern: role}`."""
        if not isinstance(data, Mapping) or not data:
            raise InputError("图层映射应为非空的映射：{rules: [...], default_role: ...} 或 {图层模式: 角色} / "
                             "a layer map must be a non-empty mapping: {rules: [...]} or {pattern: role}")
        default_role = "other"
        if "rules" in data:
            extra = set(data) - {"rules", "default_role"}
            if extra:
                names = ", ".join(sorted(map(str, extra)))
                raise InputError(f"图层映射含有未知的键：{names} / unknown keys in the layer map: {names}")
            raw_rules = data["rules"]
            if not isinstance(raw_rules, list):
                raise InputError("图层映射的 rules 应为列表 / `rules` must be a list")
            rules = []
            for i, item in enumerate(raw_rules, 1):
                if not isinstance(item, Mapping) or "pattern" not in item or "role" not in item:
                    raise InputError(f"图层映射第 {i} 条规则应含 pattern 和 role / "
                                     f"rule {i} of the layer map needs `pattern` and `role`")
                pattern = str(item["pattern"]).strip()
                if not pattern:
                    raise InputError(f"图层映射第 {i} 条规则的 pattern 为空 / rule {i} has an empty pattern")
                rules.append(LayerRule(pattern, _parse_role(item["role"], f"rule {i}")))
            if data.get("default_role") is not None:
                default_role = _parse_role(data["default_role"], "default_role")
        else:
            rules = []
            for pattern, role in data.items():
                if str(pattern).strip() == "default_role":
                    default_role = _parse_role(role, "default_role")
                    continue
                if not str(pattern).strip():
                    raise InputError("图层映射含有空的图层模式 / the layer map has an empty pattern")
                rules.append(LayerRule(str(pattern).strip(), _parse_role(role, str(pattern))))
        if not rules:
            raise InputError("图层映射没有任何规则 / the layer map has no rules")
        return cls(rules, default_role, source=source)

    @classmethod
    def coerce(cls, value: LayerMap | str | Path | Mapping | None) -> LayerMap:
        """Accept what callers have at hand: None (defaults), a LayerMap, a file path, or the data itself."""
        if value is None:
            return cls.default()
        if isinstance(value, LayerMap):
            return value
        if isinstance(value, str | Path):
            return cls.load(value)
        return cls.from_data(value)

    @property
    def is_default(self) -> bool:
        """True for the built-in map: matching no layer is then a warning; a user's map matching nothing is refused."""
        return self.source == "default"

    def resolve(self, layer: str) -> tuple[str, bool]:
        """(role, matched): `matched` is False when no rule matched and the default role was used."""
        hit = self._cache.get(layer)
        if hit is None:
            folded = str(layer).casefold()
            hit = next(((rule.role, True) for rule in self.rules if rule.matches(folded)),
                       (self.default_role, False))
            self._cache[layer] = hit
        return hit

    def role_for(self, layer: str) -> str:
        """The role for a CAD layer name (the default role when no rule matches; use resolve() to tell which)."""
        return self.resolve(layer)[0]

    def to_data(self) -> dict[str, Any]:
        """The map as plain data ({"rules": [...], "default_role": ...}), the shape from_data() reads back."""
        return {"rules": [{"pattern": r.pattern, "role": r.role} for r in self.rules],
                "default_role": self.default_role}
