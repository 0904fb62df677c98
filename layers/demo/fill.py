"""Catalog-driven attribute values: every column of a layer filled with a plausible value of its type."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import numpy as np
import shapely

from layers.catalog import Attribute, AttributeType, LayerEntry
from layers.demo.names import SPECIES, TREE_SPECIES, coin

Values = np.ndarray

_TEXT_CHOICES: dict[str, list[str]] = {
    "era": ["明", "清", "清乾隆", "清嘉庆", "民国", "1950年代"],
    "period": ["新石器时代", "商周", "汉", "宋", "明清"],
    "species": TREE_SPECIES,
    "dominant_species": SPECIES,
    "version": ["2014版", "2018版", "2021修订"],
    "design_standard": ["50年一遇", "100年一遇", "200年一遇"],
    "return_period": ["20年一遇", "50年一遇", "100年一遇"],
    "discharge_standard": ["地表水准IV类", "一级A", "地表水准III类"],
    "adjust_batch": ["2005年划定", "2013年优化调整", "2016年局部调整"],
    "batch": ["第一批", "第二批", "第三批"],
    "structure": ["砖木", "砖混", "夯土", "钢混"],
    "key_species": ["穿山甲", "豹猫", "黑脸琵鹭", "苏铁蕨", "桫椤", "虎纹蛙"],
    "mineral": ["花岗岩", "建筑用砂", "石灰岩", "高岭土"],
    "modes": ["轨道+公交", "轨道+公交+长途", "公交+出租"],
    "pipelines": ["给水、电力、通信", "给水、再生水、电力、通信", "电力、通信、燃气"],
    "land_use_mixed": ["R2+C1", "C1+C2", "M0+C2", "GIC2+C1", "R2+GIC1"],
    "land_class_2": ["0101", "0201", "0301", "0404", "1001", "1104", "1201", "201", "203"],
    "leading_function": ["综合服务", "先进制造", "科技创新", "生态休闲", "商贸物流"],
    "leading_industry": ["新一代信息技术", "生物医药", "智能制造", "新能源", "文化创意"],
    "positioning": ["区域中心", "产城融合示范区", "科技创新走廊节点", "文体商业中心"],
    "guidance": ["控制沿街界面连续度", "塑造山水通廊", "强化地标与天际线", "延续客家围屋肌理"],
    "idle_reason": ["政府原因", "企业资金原因", "规划调整", "征拆未完成"],
    "water_body": ["清林径水库", "龙口水库", "铜锣径水库", "雁田水库"],
}
_ORG_SUFFIX = ["建设集团有限公司", "实业有限公司", "投资发展有限公司", "股份合作公司", "科技有限公司"]
_ORG_NAMES = (
    "operator",
    "contractor",
    "builder",
    "owner",
    "right_holder",
    "implementing_entity",
    "responsible_unit",
    "manager",
    "community_company",
)
_CODE_NAMES = re.compile(r"(_code|_no|_id|^code)$")


def _dates(rng: np.random.Generator, n: int, start: int = 2000, end: int = 2024) -> Values:
    base = dt.date(start, 1, 1).toordinal()
    span = dt.date(end, 12, 31).toordinal() - base
    days = rng.integers(0, span, n)
    return np.array([dt.date.fromordinal(base + int(d)) for d in days], dtype=object)


def _text(layer: LayerEntry, attr: Attribute, n: int, rng: np.random.Generator) -> Values:
    name = attr.name
    if name in _TEXT_CHOICES:
        return rng.choice(np.array(_TEXT_CHOICES[name], dtype=object), n)
    if _CODE_NAMES.search(name):
        prefix = "".join(p[0] for p in layer.code.split("_")).upper()
        return np.array([f"LG-{prefix}-{i:06d}" for i in range(1, n + 1)], dtype=object)
    if name in _ORG_NAMES:
        hanzi, _ = coin(rng, n)
        suffix = rng.choice(np.array(_ORG_SUFFIX, dtype=object), n)
        return np.array([f"深圳市{h}{s}" for h, s in zip(hanzi, suffix, strict=True)], dtype=object)
    hanzi, _ = coin(rng, n)
    noun = re.sub(r"[（(].*[)）]", "", layer.name_zh)
    return np.array([f"{h}{noun}" for h in hanzi], dtype=object)


_INT_RANGES: dict[str, tuple[int, int]] = {
    "population": (200, 20000),
    "households": (50, 6000),
    "building_count": (5, 400),
    "floors": (1, 8),
    "classes": (6, 48),
    "beds": (50, 1200),
    "spaces": (40, 800),
    "charging_spaces": (0, 120),
    "units": (200, 3000),
    "cabins": (1, 4),
    "levels": (1, 4),
    "age": (100, 600),
    "employees": (50, 3000),
    "threatened_people": (0, 300),
    "quality_grade": (5, 10),
    "planned_year": (2020, 2030),
    "plan_year": (2018, 2030),
    "build_year": (2012, 2024),
    "year_built": (1980, 2022),
    "year_laid": (1990, 2023),
    "lanes": (2, 8),
    "students": (300, 2500),
}
_NUM_RANGES: dict[str, tuple[float, float]] = {
    "far": (0.8, 6.0),
    "height_limit": (24, 150),
    "coverage": (20, 50),
    "green_ratio": (30, 40),
    "redline_width": (16, 60),
    "depth": (3, 25),
    "min_width": (100, 1000),
    "height": (5, 30),
    "girth": (150, 900),
    "buffer": (5, 30),
    "control_width": (10, 60),
    "capacity": (1, 500),
    "max_depth": (0.15, 1.2),
    "design_flow": (0.5, 20),
    "corridor_width": (20, 75),
    "design_pressure": (1.6, 10),
    "protect_distance": (5, 200),
    "distance": (10, 200),
    "width": (10, 100),
    "base_price": (8000, 40000),
    "threatened_property": (10, 5000),
    "gradient": (25, 70),
    "site_area": (2000, 80000),
    "output_value": (20000, 2000000),
    "investment": (500, 200000),
    "available_area": (0, 20000),
    "floor_area": (200, 60000),
    "elevation": (0, 900),
    "retained_area": (1000, 50000),
    "quota_area": (2000, 200000),
    "planned_population": (2, 30),
}


def _number(attr: Attribute, geoms: np.ndarray, rng: np.random.Generator) -> Values:
    n = len(geoms)
    if attr.name == "area":
        return np.round(shapely.area(geoms), 1)
    if attr.name == "length":
        return np.round(shapely.length(geoms), 1)
    if attr.type is AttributeType.INTEGER:
        if attr.name == "diameter":
            return rng.choice(np.array([200, 300, 400, 600, 800, 1000, 1200, 1600]), n)
        lo, hi = _INT_RANGES.get(attr.name, (1, 100))
        return rng.integers(lo, hi + 1, n)
    lo_f, hi_f = _NUM_RANGES.get(attr.name, (1.0, 1000.0))
    return np.round(rng.uniform(lo_f, hi_f, n), 2)


def fill_attributes(
    layer: LayerEntry, geoms: np.ndarray, given: Mapping[str, object], rng: np.random.Generator
) -> dict[str, Values]:
    """Return every catalog column of the layer, using given values and inventing the rest."""
    n = len(geoms)
    out: dict[str, Values] = {}
    for attr in layer.attributes:
        if attr.name in given:
            value = given[attr.name]
            column = np.asarray(value, dtype=object)
            if column.ndim == 0:
                column = np.full(n, value, dtype=object)
            if attr.type is AttributeType.CODE:
                # recipes are shared between layers: a value foreign to this code list is re-drawn
                valid = np.isin(column.astype(str), attr.code_values())
                if not valid.all():
                    column = column.copy()
                    column[~valid] = rng.choice(
                        np.array(attr.code_values(), dtype=object), int((~valid).sum())
                    )
            out[attr.name] = column
            continue
        if attr.type is AttributeType.CODE:
            codes = np.array(attr.code_values(), dtype=object)
            out[attr.name] = rng.choice(codes, n)
        elif attr.type is AttributeType.BOOLEAN:
            out[attr.name] = rng.random(n) < 0.5
        elif attr.type is AttributeType.DATE:
            out[attr.name] = _dates(rng, n)
        elif attr.type is AttributeType.TEXT:
            out[attr.name] = _text(layer, attr, n, rng)
        else:
            out[attr.name] = _number(attr, geoms, rng)
    return out


def check_codes(layer: LayerEntry, columns: dict[str, Values]) -> None:
    """Raise ValueError if a code column holds a value outside its code list."""
    for attr in layer.attributes:
        if attr.type is AttributeType.CODE:
            bad = set(map(str, columns[attr.name])) - set(attr.code_values()) - {"None"}
            if bad:
                raise ValueError(f"{layer.code}.{attr.name}: values outside the code list: {sorted(bad)[:5]}")
