"""The district settings block: the packaged values (known answers) and a broken block refused."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from layers.district import DISTRICT, DISTRICT_FILE, STORAGE_SRID, load_district


def test_the_packaged_block_is_longgang_in_cgcs2000_gauss_kruger_114e() -> None:
    assert (DISTRICT.code, DISTRICT.name_zh, DISTRICT.name_en) == ("440307", "龙岗区", "Longgang")
    assert DISTRICT.tz == ZoneInfo("Asia/Shanghai")
    assert STORAGE_SRID == 4547 and DISTRICT.storage_crs.label == "EPSG:4547"
    assert DISTRICT.storage_crs.uri == "http://www.opengis.net/def/crs/EPSG/0/4547"
    assert DISTRICT.extent == (114.05, 22.55, 114.40, 22.82)
    assert DISTRICT.region == (113.4, 21.9, 115.1, 23.5)
    assert DISTRICT.centre == pytest.approx((114.225, 22.685))
    assert DISTRICT.sample_point == (114.25, 22.70)
    assert DISTRICT.gauss_kruger["cgcs2000"][0] == (4547, 3)


def _broken(tmp_path: Path, **changes: object) -> Path:
    block = yaml.safe_load(DISTRICT_FILE.read_text(encoding="utf-8")) | changes
    path = tmp_path / "district.yaml"
    path.write_text(yaml.safe_dump(block, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "changes",
    [
        {"time_zone": "Asia/Nowhere"},
        {"extent": [114.4, 22.55, 114.05, 22.82]},  # west after east
        {"region": [114.1, 22.6, 114.3, 22.8]},  # does not hold the extent
        {"sample_point": [113.9, 22.7]},  # outside the extent
        {"code": "4403"},
        {"unknown_setting": 1},
    ],
)
def test_a_broken_block_is_refused(tmp_path: Path, changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load_district(_broken(tmp_path, **changes))
