"""The citizen card (市民卡): holder look-ups and the feed of card status changes."""

from __future__ import annotations
