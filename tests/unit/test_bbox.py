"""The one bbox parser (app/edge/bbox.py): known boxes, and the first problem of each bad one."""

from __future__ import annotations

import pytest

from app.edge.bbox import BBoxError, BBoxProblem, parse_bbox


def test_a_lonlat_box_and_a_3d_box() -> None:
    assert parse_bbox("114.2,22.6,114.3,22.7") == (114.2, 22.6, 114.3, 22.7)
    assert parse_bbox("114.2,22.6,-5,114.3,22.7,80", counts=(4, 6)) == (114.2, 22.6, 114.3, 22.7)


def test_a_northing_first_box_is_read_as_easting_northing() -> None:
    box = parse_bbox("2500000,440000,2510000,450000", northing_first=True, lonlat=False)
    assert box == (440000, 2500000, 450000, 2510000)


def test_a_point_box_is_allowed_unless_an_area_is_wanted() -> None:
    assert parse_bbox("114.2,22.6,114.2,22.7") == (114.2, 22.6, 114.2, 22.7)
    with pytest.raises(BBoxError) as caught:
        parse_bbox("114.2,22.6,114.2,22.7", allow_empty=False)
    assert caught.value.problem is BBoxProblem.EMPTY


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1,2,3", BBoxProblem.NUMBERS),
        ("1,2,3,4,5,6", BBoxProblem.NUMBERS),  # 6 only where allowed
        ("1,2,x,4", BBoxProblem.NUMBERS),
        ("1,2,3,4,", BBoxProblem.NUMBERS),
        ("nan,2,3,4", BBoxProblem.NOT_FINITE),
        ("1,2,inf,4", BBoxProblem.NOT_FINITE),
        ("200,22.7,201,22.8", BBoxProblem.RANGE),
        ("114,22.8,115,22.7", BBoxProblem.RANGE),  # the south above the north
        ("114.3,22.7,114.2,22.8", BBoxProblem.ORDER),
    ],
)
def test_the_first_problem_is_named(text: str, problem: BBoxProblem) -> None:
    with pytest.raises(BBoxError) as caught:
        parse_bbox(text)
    assert caught.value.problem is problem


def test_projected_boxes_skip_the_lonlat_range_but_not_the_order() -> None:
    assert parse_bbox("440000,2500000,450000,2510000", lonlat=False) == (440000, 2500000, 450000, 2510000)
    with pytest.raises(BBoxError) as caught:
        parse_bbox("450000,2500000,440000,2510000", lonlat=False)
    assert caught.value.problem is BBoxProblem.ORDER
