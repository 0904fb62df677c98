"""National project codes (GB/T 40058-2021): ``YYYY-AAAAAA-DD-TT-RRRRRC``, 24 characters.

``YYYY`` year, ``AAAAAA`` region (the district's code, e.g. 龙岗区 440307), ``DD`` industry/department,
``TT`` project type (01 审批, 02 核准, 03 备案), ``RRRRR`` serial, ``C`` check character.

The check character is computed by :func:`check_character` alone, so a different algorithm can replace it
in one place. DOMAIN.md does not state one; we use the GB/T 17710 (ISO/IEC 7064) **MOD 11,10** hybrid
system over the 19 digits before it: it is a digit, and it catches every single-digit error and every
transposition of adjacent digits.
"""

from __future__ import annotations

import re

from app.errors import Unprocessable
from layers.district import DISTRICT

REGION = DISTRICT.code
PROJECT_TYPES = {"01": "审批", "02": "核准", "03": "备案"}
CODE_PATTERN = re.compile(r"^([0-9]{4})-([0-9]{6})-([0-9]{2})-([0-9]{2})-([0-9]{5})([0-9])$")


def check_character(digits: str) -> str:
    """GB/T 17710 MOD 11,10 check digit of a string of decimal digits."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("digits only")
    product = 10
    for ch in digits:
        total = (product + int(ch)) % 10 or 10
        product = (2 * total) % 11
    return str((11 - product) % 10)


def make_code(year: int, industry: str, project_type: str, serial: int, region: str = REGION) -> str:
    """Assemble a code with its check character."""
    if not (1000 <= year <= 9999 and re.fullmatch(r"[0-9]{2}", industry) and project_type in PROJECT_TYPES):
        raise ValueError("bad code part")
    if not 1 <= serial <= 99999 or not re.fullmatch(r"[0-9]{6}", region):
        raise ValueError("bad serial or region")
    body = f"{year:04d}{region}{industry}{project_type}{serial:05d}"
    return f"{year:04d}-{region}-{industry}-{project_type}-{serial:05d}{check_character(body)}"


def validate_code(code: str) -> str:
    """Return ``code`` when it is well formed with the right check character; 422 otherwise."""
    match = CODE_PATTERN.fullmatch(code)
    if match is None:
        raise Unprocessable(
            f"项目代码“{code}”格式错误，应为 YYYY-AAAAAA-DD-TT-RRRRRC（24 位）。",
            f"Project code '{code}' is malformed; expected YYYY-AAAAAA-DD-TT-RRRRRC (24 characters).",
            code="bad_project_code",
        )
    year, region, industry, ptype, serial, check = match.groups()
    if ptype not in PROJECT_TYPES:
        raise Unprocessable(
            f"项目代码类型位“{ptype}”无效（01 审批、02 核准、03 备案）。",
            f"Project type digits '{ptype}' are not 01, 02 or 03.",
            code="bad_project_code",
        )
    expected = check_character(year + region + industry + ptype + serial)
    if check != expected:
        raise Unprocessable(
            f"项目代码“{code}”校验位错误。",
            f"Project code '{code}' has a wrong check character.",
            code="bad_project_code_check",
        )
    return code
