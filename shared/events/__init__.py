"""The event catalogue: every event Praxis publishes, per service and version.

This package is the contract with subscribers. A change to a payload is a new
version with an upcaster from the old one, never an edit of a published schema.
"""
from ..registry import EventRegistry

catalogue = EventRegistry()

# Importing the modules registers their schemas in `catalogue`.
from . import intake, scheduling, notes, billing  # noqa: E402,F401
