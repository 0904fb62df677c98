"""Figures for people (layers.numbers) and in finding messages: separators, no needless decimals, units."""

from __future__ import annotations

from decimal import Decimal

from analysis.messages import fill
from layers.numbers import format_number, with_unit


def test_figures_are_grouped_without_needless_decimals() -> None:
    assert format_number(27700.0) == "27,700"
    assert format_number(94071250) == "94,071,250"
    assert format_number(12799.96) == "12,799.96"
    assert format_number(Decimal("1234567.50")) == "1,234,567.5"
    assert format_number(2008, grouped=False) == "2008"
    assert format_number(-0.001) == "0" and format_number(None) == "—"


def test_units_follow_the_figure() -> None:
    assert with_unit(27700.0, "元/m²") == "27,700 元/m²"
    assert with_unit(49.97, "%") == "49.97%" and with_unit(50, "m") == "50 m"
    assert with_unit(None, "m²") == "—" and with_unit(3, None) == "3"


def test_a_message_writes_a_stored_figure_as_people_do() -> None:
    # The demolition rule's template, as in analysis/rules/demolition.yaml.
    template = "位于补偿区片“{zone_grade}”（基准价 {base_price} 元/m²），估算补偿 {cost_yuan:,.0f} 元"
    values = {"zone_grade": "一类区片", "base_price": 27700.0, "cost_yuan": 38_400_000.4}
    assert fill(template, values) == "位于补偿区片“一类区片”（基准价 27,700 元/m²），估算补偿 38,400,000 元"
    assert fill("限高 {height_limit} m", {"height_limit": 50.0}) == "限高 50 m"
