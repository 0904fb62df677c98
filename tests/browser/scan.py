"""Reads what a person reads on a page and finds internal codes in it (issue 16: no codes where people read).

The visible text is ``document.body.innerText`` with what is not the app's wording hidden for the read: form
field values (a person's own typing), elements marked as codes (``code``, ``[data-code]``: a code shown on
purpose, e.g. in a "code" column) and the signed-in user's login in the header.
"""

from __future__ import annotations

import enum
import importlib
import re
from functools import cache

from analysis.rules.loader import get_ruleset
from app.orgs.service import SEED_ORGANISATIONS
from layers.demo.names import SUBDISTRICT_CODES
from tests.browser.cdp import Page

# Hidden for the read only (``display: none`` takes an element out of innerText); set through the CSSOM, which
# the page's Content-Security-Policy allows, unlike an added style sheet. Folded <details> are read unfolded:
# a person opens them.
HIDDEN_FOR_READ = "code, [data-code], #user, input, textarea"
READ_VISIBLE_TEXT = f"""(() => {{
    const hidden = [...document.querySelectorAll({HIDDEN_FOR_READ!r})].map(e => [e, e.style.display]);
    const closed = [...document.querySelectorAll('details:not([open])')];
    hidden.forEach(([e]) => {{ e.style.display = 'none'; }});
    closed.forEach(d => {{ d.open = true; }});
    // Tooltips and placeholders of shown elements are read too.
    const shown = e => e.getClientRects().length > 0 && !e.closest({HIDDEN_FOR_READ!r});
    const hints = [...document.querySelectorAll('[title], [placeholder]')].filter(shown)
        .flatMap(e => [e.getAttribute('title'), e.getAttribute('placeholder')]).filter(Boolean);
    try {{ return [document.body.innerText, ...hints].join('\\n'); }}
    finally {{
        hidden.forEach(([e, d]) => {{ e.style.display = d; }});
        closed.forEach(d => {{ d.open = false; }});
    }}
}})()"""

SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
RULE_ID = re.compile(r"\b[a-z_]+\.[a-z_]+\b")
# A bare run of 5+ digits (no thousands separator) standing alone: an area or a sum of money left unformatted.
# Digits inside a longer token are not matched: project codes (2026-440307-48-01-000123), dates, times,
# report numbers (#12345), contract numbers, which are identifiers a person copies as written.
BARE_NUMBER = re.compile(r"(?<![\w\-#/:.,])\d{5,}(?:\.\d+)?(?![\w\-/:,])")
# What a script shows when it puts a missing value on the page instead of a word.
JS_ARTEFACT = re.compile(r"\b(?:null|undefined|NaN)\b|\[object Object\]")
# A lower-case Latin word; not a file extension after its dot (".xlsx"), which is how files are named.
LATIN_WORD = re.compile(r"(?<![\w.])[a-z][a-z0-9_\-]{2,}\b")
# Lower-case Latin words legitimately on a Chinese page: file formats as their makers spell them
# ("Shapefile zip").
ZH_LATIN_ALLOWED = {"zip"}
# English abbreviations that look like a rule id ("e.g. EPSG:4547").
ABBREVIATIONS = {"e.g", "i.e"}
# Modules whose StrEnums hold the codes stored and sent by the API.
ENUM_MODULES = (
    "app.projects.models",
    "app.projects.items",
    "app.projects.demands",
    "app.demolition.models",
    "app.demolition.blockers",
)


@cache
def organisation_codes() -> frozenset[str]:
    """Codes of the organisations, of the rules' departments and of the sub-districts."""
    departments = get_ruleset().settings.departments
    return frozenset({code for code, *_ in SEED_ORGANISATIONS} | set(departments) | set(SUBDISTRICT_CODES))


@cache
def enum_codes() -> frozenset[str]:
    """Every code an API enum, a project type or an organisation has (the words a page must translate)."""
    codes: set[str] = set(organisation_codes()) | set(get_ruleset().settings.project_types)
    for name in ENUM_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.StrEnum) and value is not enum.StrEnum:
                codes |= {str(member.value) for member in value}
    return frozenset(codes)


# Codes that are plain English words: in English running text they are the wording ("Soil and water
# conservation", "signed"); the other codes (pnr, drc, sd-longcheng, house_building…) never are.
ENGLISH_WORDS = re.compile(r"^[a-z]+$")
ENGLISH_ORG_CODES = {
    "housing",
    "water",
    "transport",
    "emergency",
    "culture",
    "education",
    "health",
    "industry",
    "works",
}


def visible_text(page: Page) -> str:
    """What a person reads on the page now."""
    return str(page.js(READ_VISIBLE_TEXT))


def leaks(shown: str, lang: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Internal codes in a page's text: snake_case, rule ids, enum codes, bare 5+ digit figures."""
    rule_ids = [r for r in RULE_ID.findall(shown) if r not in ABBREVIATIONS]
    found = SNAKE_CASE.findall(shown) + rule_ids + BARE_NUMBER.findall(shown) + JS_ARTEFACT.findall(shown)
    codes = enum_codes()
    words = re.findall(r"(?<![\w\-])[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w\-])", shown)
    if lang == "zh":
        # No lower-case English word on a Chinese page, code or not.
        found += [w for w in LATIN_WORD.findall(shown) if w not in ZH_LATIN_ALLOWED]
    else:
        found += [w for w in words if w in codes and not ENGLISH_WORDS.match(w)]
        found += [w for w in words if w in organisation_codes() and w not in ENGLISH_ORG_CODES]
    return sorted({f for f in found if f not in allowed})


def context(shown: str, leak: str) -> list[str]:
    """The lines of the page where a leak is, for a readable failure."""
    return [line.strip()[:160] for line in shown.splitlines() if leak in line][:3]


def scan(page: Page, where: str, lang: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The internal codes the page shows now, each with the lines it is on (empty when there is none)."""
    shown = visible_text(page)
    assert shown.strip(), f"{where}: nothing visible to scan"
    return [f"{where} ({lang}): {leak!r} in {context(shown, leak)}" for leak in leaks(shown, lang, allowed)]
