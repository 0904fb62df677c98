"""The OGC API's own definition in OpenAPI 3.0 (conformance class ``oas30``).

FastAPI describes the whole application in OpenAPI 3.1. OGC API – Features Part 1 asks for 3.0, and
clients such as GDAL's OAPIF driver and QGIS read 3.0, so ``/ogc/api`` serves the ``/ogc`` part of the
application's document rewritten to 3.0: ``null`` in types becomes ``nullable``, ``const`` an
``enum``, numeric ``exclusiveMinimum``/``exclusiveMaximum`` the boolean form, ``examples`` one
``example``; only the component schemas the OGC paths reach are kept.
"""

from __future__ import annotations

import copy
from typing import Any

OPENAPI_VERSION = "3.0.3"
_REF = "#/components/schemas/"


def _schema(node: Any) -> Any:
    """A JSON Schema (2020-12 dialect, as FastAPI writes it) rewritten to OpenAPI 3.0's subset."""
    if isinstance(node, list):
        return [_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _schema(v) for k, v in node.items()}
    kind = out.get("type")
    if isinstance(kind, list):
        rest = [t for t in kind if t != "null"]
        if len(rest) < len(kind):
            out["nullable"] = True
        if len(rest) == 1:
            out["type"] = rest[0]
        else:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in rest]
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and any(o == {"type": "null"} for o in options):
            kept = [o for o in options if o != {"type": "null"}]
            out["nullable"] = True
            if len(kept) == 1 and "$ref" not in kept[0]:
                del out[key]
                out.update(kept[0])
            else:
                # 3.0 ignores the siblings of a $ref, so a lone $ref stays wrapped for nullable to apply.
                out[key] = kept
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[flag] = value
            out[bound] = True
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples:
            out["example"] = examples[0]
    for unsupported in (
        "$schema",
        "contentMediaType",
        "contentEncoding",
        "prefixItems",
        "unevaluatedProperties",
    ):
        out.pop(unsupported, None)
    return out


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            found.add(ref[len(_REF) :])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(op)
    for parameter in out.get("parameters", []):
        if "schema" in parameter:
            parameter["schema"] = _schema(parameter["schema"])
        if "examples" in parameter and isinstance(parameter["examples"], list):
            parameter["example"] = parameter.pop("examples")[0]
    body = out.get("requestBody", {})
    for media in body.get("content", {}).values():
        if "schema" in media:
            media["schema"] = _schema(media["schema"])
    for response in out.get("responses", {}).values():
        for media in response.get("content", {}).values():
            if "schema" in media:
                media["schema"] = _schema(media["schema"])
    return out


def ogc_openapi(document: dict[str, Any], prefix: str = "/ogc") -> dict[str, Any]:
    """The ``prefix`` paths of an OpenAPI 3.1 ``document`` as an OpenAPI 3.0 document."""
    paths = {
        path: {method: _operation(op) if isinstance(op, dict) else op for method, op in item.items()}
        for path, item in document.get("paths", {}).items()
        if path == prefix or path.startswith(prefix + "/")
    }
    schemas = document.get("components", {}).get("schemas", {})
    wanted: set[str] = set()
    _refs(paths, wanted)
    pending = list(wanted)
    while pending:
        name = pending.pop()
        inner: set[str] = set()
        _refs(schemas.get(name, {}), inner)
        for other in inner - wanted:
            wanted.add(other)
            pending.append(other)
    components: dict[str, Any] = {"schemas": {n: _schema(schemas[n]) for n in sorted(wanted) if n in schemas}}
    security = document.get("components", {}).get("securitySchemes")
    if security:
        components["securitySchemes"] = copy.deepcopy(security)
    info = dict(document.get("info", {}))
    info["title"] = f"{info.get('title', 'Duogui')} – OGC API Features"
    out: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": info, "paths": paths, "components": components}
    if "servers" in document:
        out["servers"] = copy.deepcopy(document["servers"])
    return out
