"""A hand-made world for the facility gap analysis: a 3 × 3 grid of 200 m blocks, seven population cells,
two primary schools and planned school sites. Coordinates are metres from (WX0, WY0) in EPSG:4547.

    roads      trans_arterial: y = 0, 200, 400, 600 (full 600 m lines, x 0…600)
               trans_branch:   x = 0, 200, 400, 600, one 200 m segment per block side (12 features);
                               the "cut" version leaves out x = 200, y 0…200
    schools    S1 东小学 (100, 0)  4 classes → 180 seats      S2 北小学 (400, 500)  8 classes → 360 seats
               S3 中学 (300, 400) junior (not a primary school)
    cells      20 m squares centred on: C1 (100, 200) 1000 · C2 (300, 0) 2000 · C3 (300, 200) 3000 ·
               C4 (200, 300) 4000 · C5 (600, 500) 1500 · C9 (0, 420) 500 · C6 (300, 1000) 800 (400 m
               from any road: beyond the 300 m snap limit)
    sub-districts  布吉 buji x < 250 · 坂田 bantian x ≥ 250
    planned    K1 (0, 500) on parcel P1 [-50, 50] × [450, 550] (GIC5, 10,000 m²) · K2 (300, 600) ·
               K3 (110, 0) (10 m from S1: built) · K4 (600, 100)

Walking distances (radius 500 m; every site and cell centre lies on a road, so no access legs) from
S1: to nodes (0,0) (200,0) 100, (0,200) (200,200) (400,0) 300, (0,400) (400,200) (600,0) 500.
from S2: to nodes (400,400) (400,600) 100, (200,400) (600,400) (400,200) (200,600) (600,600) 300.
So C1 400 (S1), C2 200 (S1), C3 400 (S1) and 400 (S2), C4 400 (S1) and 400 (S2), C5 400 (S2); C9 is 432 m
from S1 in a straight line but 520 m by road: outside. After the cut S1 reaches (200,200) only round the
block (500 m), so C3 and C4 are 600 m from S1 and served by S2 alone.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import shapely

from tests.preeval_world import WX0, WY0


def point(x: float, y: float) -> shapely.Geometry:
    """A point in world coordinates."""
    return shapely.Point(WX0 + x, WY0 + y)


def line(x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    """A straight road in world coordinates."""
    return shapely.LineString([(WX0 + x0, WY0 + y0), (WX0 + x1, WY0 + y1)])


def square(x: float, y: float, half: float) -> shapely.Geometry:
    """A square centred on (x, y)."""
    return shapely.box(WX0 + x - half, WY0 + y - half, WX0 + x + half, WY0 + y + half)


CELLS = {  # label: (x, y, population)
    "C1": (100, 200, 1000),
    "C2": (300, 0, 2000),
    "C3": (300, 200, 3000),
    "C4": (200, 300, 4000),
    "C5": (600, 500, 1500),
    "C9": (0, 420, 500),
    "C6": (300, 1000, 800),
}
CUT = (200, 0, 200, 200)


def branch_roads(cut: bool = False) -> gpd.GeoDataFrame:
    """The vertical roads, one feature per block side (without the cut segment if ``cut``)."""
    segments = [(x, y, x, y + 200) for x in (0, 200, 400, 600) for y in (0, 200, 400)]
    if cut:
        segments.remove(CUT)
    return gpd.GeoDataFrame(
        {"road_name": [f"支路{x}-{y}" for x, y, _, _ in segments]},
        geometry=[line(*s) for s in segments],
        crs=4547,
    )


def frames() -> dict[str, gpd.GeoDataFrame]:
    """The world's layers, by catalog code."""
    return {
        "trans_arterial": gpd.GeoDataFrame(
            {"road_name": [f"横路{y}" for y in (0, 200, 400, 600)]},
            geometry=[line(0, y, 600, y) for y in (0, 200, 400, 600)],
            crs=4547,
        ),
        "trans_branch": branch_roads(),
        "pub_school": gpd.GeoDataFrame(
            {
                "name": ["东小学", "北小学", "中学"],
                "school_level": ["primary", "primary", "junior"],
                "ownership": ["public"] * 3,
                "classes": [4, 8, 12],
            },
            geometry=[point(100, 0), point(400, 500), point(300, 400)],
            crs=4547,
        ),
        "cur_population": gpd.GeoDataFrame(
            {
                "grid_id": list(CELLS),
                "population": [p for _, _, p in CELLS.values()],
                "stat_date": [date(2026, 6, 30)] * len(CELLS),
            },
            geometry=[square(x, y, 10) for x, y, _ in CELLS.values()],
            crs=4547,
        ),
        "admin_subdistrict": gpd.GeoDataFrame(
            {"subdistrict_code": ["440307001", "440307002"], "subdistrict": ["buji", "bantian"]},
            geometry=[
                shapely.box(WX0 - 500, WY0 - 500, WX0 + 250, WY0 + 1500),
                shapely.box(WX0 + 250, WY0 - 500, WX0 + 1200, WY0 + 1500),
            ],
            crs=4547,
        ),
        "sp_facility": gpd.GeoDataFrame(
            {
                "facility_type": ["primary_school"] * 4 + ["kindergarten"],
                "parcel_code": ["P1", "", "", "", ""],
            },
            geometry=[point(0, 500), point(300, 600), point(110, 0), point(600, 100), point(0, 300)],
            crs=4547,
        ),
        "sp_parcel": gpd.GeoDataFrame(
            {"parcel_code": ["P1"], "plan_code": ["LG-T1"], "land_use": ["GIC5"], "area": [10000.0]},
            geometry=[shapely.box(WX0 - 50, WY0 + 450, WX0 + 50, WY0 + 550)],
            crs=4547,
        ),
    }
