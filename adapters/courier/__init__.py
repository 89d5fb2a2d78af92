"""The courier (EMS 政务专递): pickup and delivery orders, waybills, route events."""

from __future__ import annotations
