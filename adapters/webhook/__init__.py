"""Outbound webhooks to departmental systems (委办局业务系统)."""

from __future__ import annotations
