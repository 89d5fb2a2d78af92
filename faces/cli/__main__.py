"""``python -m faces.cli``: the ``govhub`` command."""

from __future__ import annotations

from faces.cli import main

main()
