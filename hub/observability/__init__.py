"""Signals for the monitoring stack: Prometheus metrics, readiness heartbeats, structured logs,
traces."""

from __future__ import annotations
