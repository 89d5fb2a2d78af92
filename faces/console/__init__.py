"""The ops console at ``/ops/``: see every message, job and counterpart, and repair failures.

:func:`install` mounts it on the web app; ``faces/console/jobs.py`` is the interface the
scheduler provides; ``faces/cli/users.py`` adds ``govhub users``.
"""

from __future__ import annotations

from faces.console.mount import install

__all__ = ["install"]
