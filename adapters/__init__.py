"""Adapters: one package per external system, plus the SDK they are built with."""

from __future__ import annotations
