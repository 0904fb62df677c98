"""Duogui (多规): the multi-plan integration platform service."""

__version__ = "0.1.0"
