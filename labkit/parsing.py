"""Kept for imports written before labkit.text: the JSON objects a model wrote, after its reasoning."""
from labkit.text import json_objects

__all__ = ["json_objects"]
