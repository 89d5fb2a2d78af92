"""The provincial online hall (省级网上政务大厅): SOAP, WS-Security, paging by watermark."""

from __future__ import annotations
