"""Bounded integer types for every request parameter and body field that carries an integer.

An unbounded ``int`` let a client send 99999999999999999999: Python took it, PostgreSQL refused it as a
bigint or integer and the request ended in a 500. These types bound each integer by the column it meets
(``bigint`` ids, ``integer`` versions and numbers), so such values are a 422 naming the parameter, and the
bounds appear in the OpenAPI document (tests/api/test_edge_openapi.py checks that every integer has them).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1
# Tile indices at the deepest zoom any tile route serves (z ≤ 22: 2^22 columns and rows).
TILE_INDEX_MAX = 2**22 - 1

RowId = Annotated[int, Ge(1), Le(BIGINT_MAX)]
"""The id of a stored row (a ``bigint`` identity column)."""

Offset = Annotated[int, Ge(0), Le(BIGINT_MAX)]
"""How many rows a page skips."""

Number = Annotated[int, Ge(0), Le(INTEGER_MAX)]
"""A version counter, version number or feature id (an ``integer`` column)."""

Integer = Annotated[int, Ge(-(2**31)), Le(INTEGER_MAX)]
"""Any value of an ``integer`` column (negative ones too, e.g. tile addresses answered by a 404)."""

Year = Annotated[int, Ge(1), Le(9999)]
"""A calendar year (the range of Python's and PostgreSQL's dates)."""
