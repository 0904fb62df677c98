"""What the project's YAML models share: reading a file into a mapping and locating validation errors.

The layer catalog (``layers/catalog/``) and the pre-evaluation rule set (``analysis/rules/``) are typed
YAML validated by pydantic models. Both load what is valid and report the rest as errors that name the
file, the entry and the dotted field; each keeps its own error model (a catalog error names a layer code,
a rule error a rule id), built here through its type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

ErrorT = TypeVar("ErrorT", bound=BaseModel)


def field_error(kind: str, field: str, message: str) -> PydanticCustomError:
    """A validation error of type ``kind`` that names the offending field below the validated model."""
    # The message travels in the context so braces in it are never taken as placeholders; the field
    # travels under the key ``kind``, where :func:`located_errors` looks for it.
    return PydanticCustomError(kind, "{message}", {kind: field, "message": message})


def located_errors(exc: ValidationError, kind: str, error: type[ErrorT], **where: Any) -> list[ErrorT]:
    """One ``error(**where, field=..., message=...)`` per problem of a validation, with its dotted field
    path (a :func:`field_error` of type ``kind`` adds the field below the model that raised it)."""
    found = []
    for problem in exc.errors(include_url=False):
        parts = [str(part) for part in problem["loc"]]
        below = (problem.get("ctx") or {}).get(kind)
        if below:
            parts.append(str(below))
        found.append(error(**where, field=".".join(parts), message=problem["msg"]))
    return found


def read_mapping(
    path: Path, errors: list[ErrorT], error: type[ErrorT], not_a_mapping: str
) -> dict[str, Any] | None:
    """Parse one YAML file into a mapping; report it as ``error`` and return None if it is unusable."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.append(error(file=path.name, message=f"cannot read YAML: {' '.join(str(exc).split())}"))
        return None
    if not isinstance(document, dict):
        errors.append(error(file=path.name, message=not_a_mapping))
        return None
    return document


def location(file: str, key: str | None, index: int | None, field: str) -> str:
    """Where an error is, as ``file:key:field`` (``#index`` for an entry without a usable key)."""
    where = key if key is not None else (f"#{index}" if index is not None else "")
    return ":".join(part for part in (file, where, field) if part)
