"""The e-license library (电子证照库): archive, look up, fetch and revoke licences."""

from __future__ import annotations
