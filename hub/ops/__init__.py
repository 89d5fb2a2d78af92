"""The ops console at ``/ops/``: see every message, job and counterpart, and repair failures.

:func:`install` mounts it on the web app; ``hub/ops/jobs.py`` is the interface the
scheduler provides; ``hub/ops/cli.py`` adds ``govhub users``.
"""

from __future__ import annotations

from hub.ops.web import install

__all__ = ["install"]
