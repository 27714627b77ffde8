"""The codes an enterprise carries: the 18-character unified social credit code (统一社会信用代码, GB 32100-2015)
with its check digit, and the 9-digit hazardous-chemicals registration code (危险化学品登记编号) where it has one.

GB 32100: characters from a 31-character set (digits and capitals without I, O, Z, S, V); position 1 the
registration authority, 2 the organisation category, 3–8 the division code (GB/T 2260), 9–17 the organisation
code, 18 the check character: C18 = 31 − (Σ Ci·Wi mod 31), with Wi = 3^(i−1) mod 31 and 31 written as 0.
"""

from __future__ import annotations

import re

from riskmap.errors import InputError

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_VALUE = {c: i for i, c in enumerate(CHARSET)}
_HAZCHEM = re.compile(r"\d{9}")


def credit_check_char(first17: str) -> str:
    """The check character of the first 17 characters of a credit code (which must be in CHARSET)."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code: str | None) -> str | None:
    """Why a unified social credit code is refused (bilingual), or None when it is well formed and its check
    character right."""
    text = (code or "").strip().upper()
    if len(text) != 18:
        return (f"统一社会信用代码应为 18 位（现为 {len(text)} 位）/ a unified social credit code has 18 characters "
                f"(this one has {len(text)})")
    bad = sorted({c for c in text if c not in _VALUE})
    if bad:
        return (f"统一社会信用代码含不允许的字符 {''.join(bad)!r}（不用 I、O、Z、S、V）/ "
                f"the credit code holds characters {''.join(bad)!r} that GB 32100 does not use (no I, O, Z, S, V)")
    if not text[2:8].isdigit():
        return "统一社会信用代码第 3–8 位应为行政区划代码 / characters 3–8 of a credit code are a division code"
    want = credit_check_char(text[:17])
    if text[17] != want:
        return (f"统一社会信用代码校验位不对（应为 {want}）/ the credit code's check character is wrong "
                f"(GB 32100 gives {want})")
    return None


def check_credit_code(code: str | None) -> str:
    """The credit code in capitals, or InputError saying what is wrong with it."""
    problem = credit_code_problem(code)
    if problem:
        raise InputError(problem)
    return (code or "").strip().upper()


def check_hazchem_code(code: str | None) -> str | None:
    """The hazardous-chemicals registration code (9 digits) or None when not given; InputError otherwise."""
    text = (code or "").strip()
    if not text:
        return None
    if not _HAZCHEM.fullmatch(text):
        raise InputError(f"危险化学品登记编号应为 9 位数字（现为 {text[:20]!r}）/ "
                         f"a hazardous-chemicals registration code has 9 digits (got {text[:20]!r})")
    return text
