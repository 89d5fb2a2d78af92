"""The leaf every part of GovHub may import: the envelope, ids and the clock, identifiers,
field errors and the column types plugins build their tables from.

Nothing here imports any other part of GovHub.
"""

from __future__ import annotations
