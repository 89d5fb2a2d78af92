"""The payment platform (统一支付 / 非税): signed orders in, signed notifications back."""

from __future__ import annotations
