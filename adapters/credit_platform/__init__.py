"""The credit platform (信用平台): 双公示 disclosure uploads and credit queries."""

from __future__ import annotations
