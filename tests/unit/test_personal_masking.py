"""Masking of residents' personal information: known answers worked out by hand, and the input checks."""

from __future__ import annotations

import pytest

from app.demolition.personal import (
    PERSONAL_FIELDS,
    PersonalKind,
    id_check_character,
    mask,
    mask_field,
    normalise_phone,
    normalise_resident_id,
    resident_id_problem,
)

NAME, ID, PHONE, ADDRESS = (
    PersonalKind.NAME,
    PersonalKind.RESIDENT_ID,
    PersonalKind.PHONE,
    PersonalKind.ADDRESS,
)


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        (NAME, "张三", "张*"),
        (NAME, "张三丰", "张**"),
        (NAME, "欧阳修文", "欧阳**"),
        (NAME, "欧阳修", "欧阳*"),
        (NAME, "欧阳", "欧*"),  # only the surname: nothing but it would be left, so it is masked too
        (NAME, "司马相如", "司马**"),
        (NAME, "张", "*"),
        (NAME, " 李四 ", "李*"),
        (NAME, "𠀾三", "𠀾*"),  # U+2003E is one character, not two UTF-16 halves
        (NAME, "王𠀾𠀾", "王**"),
        (NAME, "John Smith", "J*********"),
        (ID, "440307199001051234", "440307********1234"),
        (ID, "11010519491231002X", "110105********002X"),
        (ID, "440307900105123", "440307******123"),  # the old 15-digit form
        (ID, "12345", "****5"),
        (ID, "1234", "***4"),  # a third of 4 characters: 1 kept
        (ID, "X", "*"),
        (PHONE, "13812345678", "138****5678"),
        (PHONE, "075528888888", "075*****8888"),
        (PHONE, "28888888", "******88"),
        (PHONE, "110", "**0"),
        (ADDRESS, "深圳市龙岗区平湖街道凤凰社区凤凰大道12号", "深圳市龙岗区平湖街道凤凰社区****"),
        (ADDRESS, "平湖街道新南村 12 号", "平湖街道新南村****"),
        (ADDRESS, "龙岗街道, 1 号", "龙岗街道****"),
        (ADDRESS, "横岗镇 3 巷 5 号", "横岗镇****"),
        (ADDRESS, "平湖街道凤凰社区", "平湖街道凤凰社区"),  # no home in it: nothing to hide
        (ADDRESS, "某某大厦 A 座 1201", "某某大厦****"),  # no level named: its first third (13 // 3)
        (ADDRESS, "x", "****"),
    ],
)
def test_mask_known_answers(kind: PersonalKind, value: str, masked: str) -> None:
    assert mask(kind, value) == masked


def test_blank_values_stay_blank_and_other_fields_are_untouched() -> None:
    for kind in PersonalKind:
        assert mask(kind, None) is None and mask(kind, "") == ""
    assert mask_field("unit_code", "A-001") == "A-001" and mask_field("households", 3) == 3
    assert mask_field("owner_name", "张三") == "张*" and mask_field("id_number", None) is None
    assert set(PERSONAL_FIELDS) == {"owner_name", "id_number", "phone", "address"}


def test_resident_id_check_character_known_answers() -> None:
    # GB 11643-1999's own examples, and one summed by hand: Σ(digit × weight) = 228, 228 mod 11 = 8 → "4".
    assert id_check_character("11010519491231002") == "X"
    assert id_check_character("44052418800101001") == "4"
    assert id_check_character("44030719900105123") == "4"
    assert resident_id_problem("440524188001010014") is None
    assert normalise_resident_id(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("440307199001051235", "校验位"),
        ("44030719900105123", "18 位"),
        ("440307199013051230", "出生日期"),
        ("440307299001051234", "出生日期"),  # born in 2990
        ("040307199001051234", "18 位"),
        ("440307********1234", "18 位"),
    ],
)
def test_bad_resident_ids(value: str, why: str) -> None:
    problem = resident_id_problem(value)
    assert problem is not None and why in problem[0]


def test_phones() -> None:
    assert normalise_phone("138 1234 5678") == "13812345678" == normalise_phone("+86 138-1234-5678")
    assert normalise_phone("0755-28888888") == "075528888888"
    for bad in ("12812345678", "1381234567", "138****5678", "28888888", "电话"):
        with pytest.raises(ValueError, match="11 位手机号"):
            normalise_phone(bad)


def test_free_text_masks_numbers_and_the_known_values_only() -> None:
    from app.demolition.personal import PersonalKind, mask_text

    known = {PersonalKind.NAME: ["欧阳修文", "欧阳修"], PersonalKind.ADDRESS: ["横岗街道六约社区深坑村 3 号"]}
    text = "欧阳修文、欧阳修，旧证 440307900105123，手机 19912345678；横岗街道六约社区深坑村 3 号"
    assert mask_text(text, known) == (
        "欧阳**、欧阳*，旧证 440307******123，手机 199****5678；横岗街道六约社区****"
    )
    # Runs of digits that are neither (a 20-digit contract, a 12-digit landline with its area code, a
    # 10-digit number starting with 1) stay; so does an ID inside a longer code.
    for kept in ("合同 20261201000012345678", "电话 075528881234", "编号 1381234567", "A440307199001051234"):
        assert mask_text(kept, None) == kept
    assert mask_text("", known) == "" and mask_text("无", {}) == "无"
