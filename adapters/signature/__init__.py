"""The signature service (CA / 电子签章): sign and verify documents and messages."""

from __future__ import annotations
