"""Residents' personal information in the demolition ledger: which fields hold it, how it is masked, checked.

This is the one declaration the API, the exports, the tiles and the pages read (个人信息保护法: need to know).
Who may see the values in full is decided in :mod:`app.demolition.disclosure`.

Masking rules (every channel uses :func:`mask`):

- **name** (权利人): the surname stays, every other character becomes ``*`` — 张三 → 张*, 张三丰 → 张**,
  欧阳修文 → 欧阳** (a listed compound surname stays whole when the name is longer than it). A one-character
  name becomes ``*``. Characters are Unicode code points, so 𠀾 (outside the BMP) counts as one.
- **resident ID** (身份证号): 18 characters → first 6 (the issuing area) + 8 ``*`` (the birth date and
  more) + last 4, e.g. 440307********1234; 15 characters (the old form) → first 6 + 6 ``*`` + last 3; any
  other text keeps at most its last 4 characters and never more than a third of it.
- **phone** (联系电话): 11 characters (a mobile) → first 3 + 4 ``*`` + last 4 (138****5678); longer → first 3
  and last 4 around ``*``; shorter → at most its last 4 and never more than a third of it.
- **address** (地址): kept up to the community level (the first 社区/居委会/村委会/村), else the sub-district
  level (the first 街道/镇/乡), else its first third (at most 6 characters); what follows becomes ``****``
  (fixed, so the house number's length is not told). An address naming no more than a community stays.

Blank values stay as they are (None, ""). Masked text always contains ``*``, which no stored value may hold,
so a masked export sent back as a bulk update can be recognised cell by cell.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum


class PersonalKind(StrEnum):
    """The kinds of personal information the ledger holds."""

    NAME = "name"
    RESIDENT_ID = "resident_id"
    PHONE = "phone"
    ADDRESS = "address"


# The ledger's fields holding personal information (unit attribute → kind). Bank details are not kept:
# compensation is paid through the sub-district's own system, and the ledger keeps amounts only.
PERSONAL_FIELDS: dict[str, PersonalKind] = {
    "owner_name": PersonalKind.NAME,
    "id_number": PersonalKind.RESIDENT_ID,
    "phone": PersonalKind.PHONE,
    "address": PersonalKind.ADDRESS,
}

# Common compound surnames (复姓): kept whole, as people expect (欧阳** rather than 欧***).
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 闻人 澹台 南宫 西门"
    " 申屠 端木 百里 呼延 东郭 独孤 拓跋 太史 公羊 万俟 第五 赫连 濮阳 单于 左丘".split()
)
MASK = "*"
ADDRESS_TAIL = "****"
_COMMUNITY_LEVEL = ("社区", "居委会", "村委会", "村")
_SUBDISTRICT_LEVEL = ("街道", "镇", "乡")


def _keep(text: str, head: int, tail: int) -> str:
    """``text`` with all but ``head`` leading and ``tail`` trailing code points replaced by ``*``."""
    hidden = len(text) - head - tail
    return text[:head] + MASK * hidden + (text[len(text) - tail :] if tail else "")


def _short(text: str) -> str:
    """Odd-length identifiers: at most the last 4 characters and never more than a third of them."""
    return _keep(text, 0, min(4, len(text) // 3))


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳修文 → 欧阳**, 张 → *."""
    name = name.strip()
    if len(name) <= 1:
        return MASK * len(name)
    head = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return _keep(name, head, 0)


def mask_resident_id(number: str) -> str:
    """440307199001011234 → 440307********1234."""
    number = number.strip()
    if len(number) == 18:
        return _keep(number, 6, 4)
    if len(number) == 15:
        return _keep(number, 6, 3)
    return _short(number)


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    phone = phone.strip()
    if len(phone) >= 11:
        return _keep(phone, 3, 4)
    return _short(phone)


def _level_end(address: str, markers: tuple[str, ...]) -> int | None:
    ends = [address.find(m) + len(m) for m in markers if m in address]
    return min(ends) if ends else None


def mask_address(address: str) -> str:
    """平湖街道凤凰社区凤凰大道 12 号 → 平湖街道凤凰社区****."""
    address = address.strip()
    end = _level_end(address, _COMMUNITY_LEVEL) or _level_end(address, _SUBDISTRICT_LEVEL)
    if end is None:
        end = min(6, len(address) // 3)
    if end >= len(address):
        return address  # no more than a community: nobody's home
    return address[:end] + ADDRESS_TAIL


_MASKERS = {
    PersonalKind.NAME: mask_name,
    PersonalKind.RESIDENT_ID: mask_resident_id,
    PersonalKind.PHONE: mask_phone,
    PersonalKind.ADDRESS: mask_address,
}


def mask(kind: PersonalKind, value: str | None) -> str | None:
    """The masked form of a personal value of ``kind`` (None and "" stay as they are)."""
    if not value:
        return value
    return _MASKERS[kind](value)


def mask_field(field: str, value: object) -> object:
    """A field's value as shown to someone without the need to know (other fields unchanged)."""
    kind = PERSONAL_FIELDS.get(field)
    if kind is None or not isinstance(value, str):
        return value
    return mask(kind, value)


# Patterns of personal values written into free text (a blocker's title, description, thread): a resident ID
# (18 characters, or the old 15 digits) and a mainland mobile number, not inside a longer run of digits.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def mask_text(text: str, known: dict[PersonalKind, list[str]] | None = None) -> str:
    """Free text as shown without the need to know: resident IDs and mobile numbers in it masked, and
    the ``known`` personal values (e.g. the owner's name and address of a blocker's unit) wherever found."""
    if not text:
        return text
    for kind, values in (known or {}).items():
        # Longest first, so a value containing another is masked whole.
        for value in sorted({v.strip() for v in values if v and v.strip()}, key=len, reverse=True):
            text = text.replace(value, _MASKERS[kind](value))
    text = _ID_IN_TEXT.sub(lambda m: mask_resident_id(m.group()), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)


def is_masked(value: object) -> bool:
    """Whether a given value is (or looks like) masked output: stored values never contain ``*``."""
    return isinstance(value, str) and MASK in value


# GB 11643-1999: weights of the first 17 digits; the remainder mod 11 names the check character.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_PATTERN = re.compile(r"^[1-9]\d{16}[\dX]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")  # area code (010, 0755…) and 7–8 digits


def id_check_character(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id_problem(number: str) -> tuple[str, str] | None:
    """Why ``number`` is not an 18-character resident ID (zh, en), or None when it is one."""
    if not _ID_PATTERN.match(number):
        return "身份证号须为 18 位（末位可为 X）", "a resident ID has 18 characters (the last may be X)"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1800 or born > date.today():
        return "身份证号中的出生日期无效", "the birth date in the resident ID is not a date"
    if id_check_character(number[:17]) != number[17]:
        return "身份证号校验位不符", "the resident ID's check character is wrong"
    return None


def normalise_resident_id(value: str) -> str:
    """A resident ID as stored (blanks removed, x upper-cased); ValueError with zh|en when invalid."""
    number = re.sub(r"\s", "", value).upper()
    problem = resident_id_problem(number)
    if problem:
        raise ValueError("|".join(problem))
    return number


def normalise_phone(value: str) -> str:
    """A phone as stored (digits only: a mainland mobile or a landline with its area code)."""
    digits = re.sub(r"[\s\-()（）]", "", value)
    digits = digits.removeprefix("+86").removeprefix("0086")
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    raise ValueError("联系电话须为 11 位手机号或带区号的固话|a phone is an 11-digit mobile or a landline")
