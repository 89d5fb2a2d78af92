"""The pipeline a message takes: ingest (check, validate, route, store), then the dispatcher
(claim, transform, deliver, record), with a circuit breaker per destination."""

from __future__ import annotations
