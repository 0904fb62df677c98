"""The pre-evaluation engine (预评价); framework-agnostic."""
