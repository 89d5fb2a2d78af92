"""The faces of the hub: thin layers over the engine (:mod:`hub`), never imported by it.

- :mod:`faces.http`: what every HTTP face shares (callers, problem documents, OpenAPI pieces);
- :mod:`faces.rest`: the REST API, health and metrics; :mod:`faces.app` puts every face on one app;
- :mod:`faces.soap`: the SOAP service; :mod:`faces.console`: the ops console at ``/ops/``;
- :mod:`faces.cli`: the ``govhub`` command; :mod:`faces.demo`: ``govhub demo``.
"""

from __future__ import annotations
