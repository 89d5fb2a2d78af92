"""The REST API (``/api/v1``), health, readiness and metrics."""

from __future__ import annotations
