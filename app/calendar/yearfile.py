"""A year's official arrangement as a file: the JSON ``duogui calendar load`` and the calendar page accept.

``{"source": "…", "holidays": [{"date": "YYYY-MM-DD", "name": "春节"}, …], "makeup_working_days": […]}``
(``source`` and ``makeup_working_days`` optional; ``year`` optional, and then it must be the year loaded).
Every problem is named by its line, so an administrator can find it in the file: bytes that are not UTF-8,
control characters (NUL…), broken JSON, a bad or missing date, a date of another year, a date listed twice
or as both a holiday and a make-up working day, a make-up working day that is not a weekend day. A refused
file is refused whole: the caller writes nothing.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from datetime import date
from typing import Any

from app.calendar.store import CalendarDay, CalendarYearInput
from app.edge.text import REFUSED
from app.errors import Unprocessable

MAX_FILE_BYTES = 1024 * 1024  # 1 MB: a year's arrangement is a few kilobytes
MAX_PROBLEMS = 50
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The pure-Python JSON scanner and its object and array parsers (public in the module, if not in typeshed):
# unlike the C scanner, it calls the decoder's parse_object/parse_array, where the line is known.
JSONObject = vars(json.decoder)["JSONObject"]
JSONArray = vars(json.decoder)["JSONArray"]
py_make_scanner = vars(json.scanner)["py_make_scanner"]
scanstring = vars(json.decoder)["scanstring"]
_KEYS = {"source", "year", "holidays", "makeup_working_days"}
_WEEKDAYS_ZH = "一二三四五六日"
_SECTIONS = {"holidays": ("节假日", "holiday"), "makeup_working_days": ("调休上班日", "make-up working day")}


class _Lined(dict[str, Any]):
    """A JSON object that knows the line it starts on."""

    line = 0


class _LinedList(list[Any]):
    """A JSON array that knows the line it starts on."""

    line = 0


class _LinedStr(str):
    """A JSON string value that knows its line (the line a date is named on)."""

    line = 0


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


class _LineDecoder(json.JSONDecoder):
    """A decoder whose objects and arrays carry their line (the pure-Python scanner calls these hooks)."""

    def __init__(self) -> None:
        super().__init__()

        def parse_object(state: tuple[str, int], *args: Any) -> tuple[Any, int]:
            value, end = JSONObject(state, *args)
            node = _Lined(value)
            node.line = _line_at(state[0], state[1])
            return node, end

        def parse_array(state: tuple[str, int], scan: Any) -> tuple[Any, int]:
            value, end = JSONArray(state, scan)
            node = _LinedList(value)
            node.line = _line_at(state[0], state[1])
            return node, end

        def parse_string(text: str, end: int, strict: bool) -> tuple[Any, int]:
            value, after = scanstring(text, end, strict)
            node = _LinedStr(value)
            node.line = _line_at(text, end)
            return node, after

        self.parse_object = parse_object
        self.parse_array = parse_array
        self.parse_string = parse_string
        self.scan_once = py_make_scanner(self)


class _Problems:
    """Problems found so far, each with its line and bilingual message."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []

    def add(self, line: int, zh: str, en: str) -> None:
        self.found.append(
            {"line": line, "message_zh": f"第 {line} 行：{zh}", "message_en": f"Line {line}: {en}"}
        )

    def refuse(self) -> None:
        """Raise 422 naming the first problem (all of them listed in ``problems``), if any."""
        if not self.found:
            return
        first = self.found[0]
        more_zh = f"（共 {len(self.found)} 处问题）" if len(self.found) > 1 else ""
        more_en = f" ({len(self.found)} problems)" if len(self.found) > 1 else ""
        raise Unprocessable(
            f"日历文件有误，未加载：{first['message_zh']}{more_zh}",
            f"The calendar file was refused, nothing loaded: {first['message_en']}{more_en}",
            code="bad_calendar_file",
            problems=self.found[:MAX_PROBLEMS],
        )


def _text(raw: bytes) -> str:
    """The file as text: UTF-8 (a BOM allowed) without control characters, else 422 naming the line."""
    problems = _Problems()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(raw.count(b"\n", 0, exc.start) + 1, "不是 UTF-8 编码的文本。", "not UTF-8 text.")
        problems.refuse()
        raise AssertionError("unreachable") from exc
    for number, line in enumerate(text.split("\n"), start=1):
        found = REFUSED.search(line)
        if found:
            char = f"U+{ord(found.group()):04X}"
            problems.add(
                number, f"含有不允许的控制字符 {char}（如 NUL）。", f"holds the control character {char}."
            )
    problems.refuse()
    return text


def _document(text: str) -> _Lined:
    """The parsed top-level object, else 422 naming the line of the JSON error."""
    problems = _Problems()
    try:
        document = _LineDecoder().decode(text)
    except json.JSONDecodeError as exc:
        problems.add(
            exc.lineno,
            f"JSON 格式错误（第 {exc.colno} 列）。",
            f"invalid JSON at column {exc.colno} ({exc.msg}).",
        )
        problems.refuse()
        raise AssertionError("unreachable") from exc
    except RecursionError as exc:
        problems.add(1, "JSON 嵌套过深。", "the JSON is nested too deeply.")
        problems.refuse()
        raise AssertionError("unreachable") from exc
    if not isinstance(document, _Lined):
        problems.add(1, "文件应为一个 JSON 对象。", "the file must hold one JSON object.")
        problems.refuse()
    assert isinstance(document, _Lined)
    return document


def _key_line(text: str, key: str) -> int:
    found = text.find(json.dumps(key))
    return _line_at(text, found) if found >= 0 else 1


def _check_top(text: str, document: _Lined, year: int, problems: _Problems) -> None:
    for key in sorted(set(document) - _KEYS):
        problems.add(
            _key_line(text, key),
            f"未知字段“{key}”（可用：source、year、holidays、makeup_working_days）。",
            f"unknown field '{key}' (known: source, year, holidays, makeup_working_days).",
        )
    stated = document.get("year", year)
    if stated != year or isinstance(stated, bool):
        problems.add(
            _key_line(text, "year"),
            f"文件是 {stated} 年的，不是 {year} 年。",
            f"the file is for {stated}, not {year}.",
        )
    source = document.get("source")
    if source is not None and not (isinstance(source, str) and 1 <= len(source.strip()) <= 200):
        problems.add(
            _key_line(text, "source"), "source 应为 1–200 个字符。", "'source' must be 1-200 characters."
        )
    for key in _SECTIONS:
        value = document.get(key, [] if key == "makeup_working_days" else None)
        if not isinstance(value, list):
            problems.add(
                _key_line(text, key), f"缺少列表“{key}”或其不是列表。", f"'{key}' is missing or not a list."
            )
    if isinstance(document.get("holidays"), list) and not document["holidays"]:
        problems.add(_key_line(text, "holidays"), "节假日列表为空。", "the list of holidays is empty.")


def _day(entry: Any, section: str, parent_line: int, problems: _Problems) -> tuple[int, CalendarDay] | None:
    """One checked entry with its line, or None (its problems noted)."""
    line = entry.line if isinstance(entry, _Lined) else parent_line
    if not isinstance(entry, _Lined) or set(entry) != {"date", "name"}:
        problems.add(
            line,
            '每一项应为 {"date": "YYYY-MM-DD", "name": "名称"}。',
            'each entry must be {"date": "YYYY-MM-DD", "name": "…"}.',
        )
        return None
    value, name = entry["date"], entry["name"]
    line = value.line if isinstance(value, _LinedStr) else line  # the date's own line, in a spread-out entry
    day = None
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        problems.add(
            line,
            f"日期“{value}”无效，应为 YYYY-MM-DD 格式的真实日期。",
            f"'{value}' is not a real date (YYYY-MM-DD).",
        )
        return None
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100 or REFUSED.search(name):
        problems.add(
            line,
            f"{day} 的名称应为 1–100 个可见字符。",
            f"the name of {day} must be 1-100 printable characters.",
        )
        return None
    if section == "makeup_working_days" and day.weekday() < 5:
        problems.add(
            line,
            f"调休上班日 {day} 是星期{_WEEKDAYS_ZH[day.weekday()]}，本来就是工作日。",
            f"make-up working day {day} is a {day:%A}, a working day anyway.",
        )
    return line, CalendarDay(date=day, name=name.strip())


def _check_days(document: _Lined, year: int, problems: _Problems) -> dict[str, list[CalendarDay]]:
    seen: dict[date, tuple[str, int]] = {}
    days: dict[str, list[CalendarDay]] = {}
    for section, (zh, en) in _SECTIONS.items():
        entries = document.get(section, [])
        parent = entries.line if isinstance(entries, _LinedList) else 1
        days[section] = []
        for entry in entries if isinstance(entries, list) else []:
            checked = _day(entry, section, parent, problems)
            if checked is None:
                continue
            line, day = checked
            if day.date.year != year:
                problems.add(line, f"日期 {day.date} 不属于 {year} 年。", f"{day.date} is not in {year}.")
            elif day.date in seen:
                other, at = seen[day.date]
                problems.add(
                    line,
                    f"{day.date} 已在第 {at} 行列为{_SECTIONS[other][0]}，不能重复或同时列为{zh}。",
                    f"{day.date} is already listed on line {at} as a {_SECTIONS[other][1]};"
                    f" it cannot be listed again as a {en}.",
                )
            else:
                seen[day.date] = (section, line)
            days[section].append(day)
    return days


def parse_year_file(raw: bytes, year: int, default_source: str) -> CalendarYearInput:
    """The year's calendar from a file, or 422 listing every problem by line (nothing is loaded then)."""
    text = _text(raw)
    document = _document(text)
    problems = _Problems()
    _check_top(text, document, year, problems)
    days = _check_days(document, year, problems)
    problems.found.sort(key=lambda p: int(p["line"]))
    problems.refuse()
    source = document.get("source")
    return CalendarYearInput(
        source=source.strip() if isinstance(source, str) else default_source,
        holidays=days["holidays"],
        makeup_working_days=days["makeup_working_days"],
    )
