"""GovHub: an integration hub for a city's Internet + government services platform."""

from __future__ import annotations

__version__ = "0.1.0"
