"""CAD (DXF) specifics: the text encoding GDAL must use, and entity colours as attributes.

GDAL's DXF driver returns geometry and each entity's CAD layer and handle, but not its colour, and it
trusts ``$DWGCODEPAGE`` even for R2007+ files, whose text is always UTF-8. ezdxf reads both correctly.
"""

from __future__ import annotations

from pathlib import Path

import ezdxf
from ezdxf import colors
from ezdxf.document import Drawing

from layers.ingest.errors import IngestError

_R2007 = "AC1021"
_CODEC_TO_GDAL = {"cp936": "CP936", "gbk": "CP936", "gb2312": "CP936", "utf8": "UTF-8", "utf-8": "UTF-8"}


def dxf_entity_styles(path: Path, name: str) -> tuple[str, dict[str, tuple[str, int, str]]]:
    """GDAL encoding name for the file, and entity handle → (CAD layer, colour index, colour #rrggbb)."""
    try:
        doc = ezdxf.readfile(str(path))
        return _encoding(doc), _styles(doc)
    except Exception as exc:  # a malformed file surfaces as DXFError, ValueError, StopIteration, …
        summary = str(exc)[:160] or type(exc).__name__
        raise IngestError(
            f"无法读取 CAD 文件“{name}”：{summary}",
            f"Cannot read the DXF file '{name}': {summary}",
            code="unreadable_file",
        ) from exc


def _encoding(doc: Drawing) -> str:
    if doc.dxfversion >= _R2007:
        return "UTF-8"
    return _CODEC_TO_GDAL.get(doc.encoding.lower().replace("_", ""), doc.encoding.upper())


def _styles(doc: Drawing) -> dict[str, tuple[str, int, str]]:
    layer_colours = {layer.dxf.name: abs(int(layer.dxf.color)) for layer in doc.layers}
    styles: dict[str, tuple[str, int, str]] = {}
    for entity in doc.modelspace():
        layer = str(entity.dxf.get("layer", "0"))
        aci = int(entity.dxf.get("color", colors.BYLAYER))
        if aci in (colors.BYLAYER, colors.BYBLOCK):
            aci = layer_colours.get(layer, 7)
        true_colour = entity.dxf.get("true_color")
        rgb = colors.int2rgb(true_colour) if true_colour is not None else colors.aci2rgb(aci)
        styles[str(entity.dxf.handle).upper()] = (layer, aci, "#{:02X}{:02X}{:02X}".format(*rgb))
    return styles
