"""The browser app's locale files: the same keys in Chinese and English, no empty text, every key in use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

PUBLIC = Path(__file__).resolve().parents[2] / "web" / "public"
LANGS = ("zh", "en")
KEY = r"[A-Za-z_]\w*"
# t( as a function of its own (not foo.t( or bat(), then its first argument up to a comma at depth 0.
T_CALL = re.compile(r"(?<![\w.$])t\(")
# In a first argument that is an expression, the keys are the branches of a ternary: c ? "a" : "b".
BRANCH = re.compile(rf"[?:]\s*([\"'])({KEY})\1")
LITERAL = re.compile(rf"\s*([\"'])({KEY})\1\s*")
NAMED = re.compile(rf"\bnamed\(\s*([\"'])({KEY})\1")
STATIC = re.compile(rf"\bdata-i18n(?:-placeholder|-label)?=\"({KEY})\"")
PLACEHOLDER = re.compile(r"\{(\d+)\}")
# English counts buildings without a measure word ("5", not "5 栋"): preeval_report.js trims the space.
EMPTY_ON_PURPOSE = {"en.buildingUnit"}


def _locale(lang: str) -> dict[str, Any]:
    """One locale file as written."""
    return dict(json.loads((PUBLIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


def _first_argument(source: str, start: int) -> str:
    """The text of a call's first argument, from just after its opening parenthesis."""
    depth, quote, i = 0, "", start
    while i < len(source):
        char = source[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            break
        i += 1
    return source[start:i]


def keys_in_js(source: str) -> set[str]:
    """The keys a script names: t("key"), t(c ? "a" : "b"), named("map", …)."""
    keys = {m.group(2) for m in NAMED.finditer(source)}
    for call in T_CALL.finditer(source):
        argument = _first_argument(source, call.end())
        literal = LITERAL.fullmatch(argument)
        keys |= {literal.group(2)} if literal else {m.group(2) for m in BRANCH.finditer(argument)}
    return keys


def keys_in_use() -> dict[str, set[str]]:
    """Every key named by the scripts and the page, with the files that name it."""
    used: dict[str, set[str]] = {}
    files = [*sorted((PUBLIC / "js").glob("*.js")), PUBLIC / "index.html"]
    for path in files:
        source = path.read_text(encoding="utf-8")
        keys = {m.group(1) for m in STATIC.finditer(source)}
        if path.suffix == ".js":
            keys |= keys_in_js(source)
        for key in keys:
            used.setdefault(key, set()).add(path.name)
    return used


def problems(locales: dict[str, dict[str, Any]], used: dict[str, set[str]]) -> list[str]:
    """What is wrong with a set of locales: keys missing from one, empty text, keys the code needs."""
    found: list[str] = []
    first, *others = LANGS
    for other in others:
        found += _compare(locales[first], locales[other], f"{first}/{other}")
    for lang in LANGS:
        found += _empty(locales[lang], lang)
        found += [
            f"{lang}: {key} (used in {', '.join(sorted(used[key]))})"
            for key in used
            if key not in locales[lang]
        ]
    return found


def _compare(a: dict[str, Any], b: dict[str, Any], where: str) -> list[str]:
    """Keys in only one of two tables, recursively, and templates whose placeholders differ."""
    found = [f"{where}: {key} only in one" for key in sorted(a.keys() ^ b.keys())]
    for key in sorted(a.keys() & b.keys()):
        if isinstance(a[key], dict) and isinstance(b[key], dict):
            found += _compare(a[key], b[key], f"{where}.{key}")
        elif isinstance(a[key], str) and isinstance(b[key], str):
            if set(PLACEHOLDER.findall(a[key])) != set(PLACEHOLDER.findall(b[key])):
                found.append(f"{where}: {key} has other placeholders")
        else:
            found.append(f"{where}: {key} is a {type(a[key]).__name__} and a {type(b[key]).__name__}")
    return found


def _empty(table: dict[str, Any], where: str) -> list[str]:
    """Values that are not a non-empty string (or a map of them)."""
    found: list[str] = []
    for key, value in table.items():
        if isinstance(value, dict):
            found += _empty(value, f"{where}.{key}")
        elif (not isinstance(value, str) or not value) and f"{where}.{key}" not in EMPTY_ON_PURPOSE:
            found.append(f"{where}: {key} is {value!r}")
    return found


def test_locales_agree_and_cover_the_code() -> None:
    """zh.json and en.json have the same keys, no empty text, and every key the code names."""
    locales = {lang: _locale(lang) for lang in LANGS}
    assert problems(locales, keys_in_use()) == []


def test_the_code_names_keys_found_by_hand() -> None:
    """The scan finds keys written each way the code writes them (counted by hand in the sources)."""
    used = keys_in_use()
    assert {"title", "signIn", "searchLayers", "map"} <= used.keys()  # data-i18n, -placeholder, -label
    assert "index.html" in used["searchLayers"]
    assert {"batching", "comparing"} <= used.keys()  # t(kind === "batch" ? "batching" : "comparing")
    assert "batch" not in used  # the condition's literal is not a key
    assert {
        "pjActions",
        "listSeparator",
        "pjLinkOwn",
    } <= used.keys()  # named("pjActions", …), t("…") in i18n.js
    assert len(used) > 400


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda ls: ls["en"].pop("dmReloadUnit"),
            ["zh/en: dmReloadUnit only in one", "en: dmReloadUnit (used in demolition_unit.js)"],
        ),
        (lambda ls: ls["zh"]["pjStatus"].pop("stopped"), ["zh/en.pjStatus: stopped only in one"]),
        (lambda ls: ls["zh"].update(save=""), ["zh: save is ''"]),
        (lambda ls: ls["en"].update(active="on"), ["zh/en: active has other placeholders"]),
    ],
)
def test_problems_are_found(change: Any, expected: list[str]) -> None:
    """A key removed from one file, an empty text or a lost placeholder is reported."""
    locales = {lang: _locale(lang) for lang in LANGS}
    change(locales)
    assert problems(locales, keys_in_use()) == expected
