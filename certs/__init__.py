"""Dev key material (a CA, payment key pairs): generated at run time, never committed."""

from __future__ import annotations
