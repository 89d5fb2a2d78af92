"""SOAP ingress: ``/soap/GovHubService``, a WSDL-described door into the ingest pipeline.

- :mod:`hub.soap.model` reads the canonical JSON Schemas into shapes;
- :mod:`hub.soap.xsdgen` writes them as XSDs and the WSDL (``python -m hub.soap.xsdgen``);
- :mod:`hub.soap.mapping` converts XML ⇄ JSON by walking the same shapes;
- :mod:`hub.soap.xmlsafe` parses untrusted XML (no entities, DTDs or network; capped);
- :mod:`hub.soap.envelope` opens SOAP 1.1/1.2 envelopes and writes responses and faults;
- :mod:`hub.soap.wsse` checks WS-Security UsernameTokens (or a Bearer API key);
- :mod:`hub.soap.service` runs the operations; :mod:`hub.soap.endpoint` is the Flask side.
"""

from __future__ import annotations
