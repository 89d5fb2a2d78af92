"""Signals for the monitoring stack: Prometheus metrics, readiness heartbeats, structured logs."""

from __future__ import annotations
