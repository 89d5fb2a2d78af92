"""SOAP ingress: ``/soap/GovHubService``, a WSDL-described door into the ingest pipeline.

- :mod:`faces.soap.model` reads the canonical JSON Schemas into shapes;
- :mod:`faces.soap.xsdgen` writes them as XSDs and the WSDL (``python -m faces.soap.xsdgen``);
- :mod:`faces.soap.mapping` converts XML ⇄ JSON by walking the same shapes;
- :mod:`faces.soap.xmlsafe` parses untrusted XML (no entities, DTDs or network; capped);
- :mod:`faces.soap.envelope` opens SOAP 1.1/1.2 envelopes and writes responses and faults;
- :mod:`faces.soap.wsse` checks WS-Security UsernameTokens (or a Bearer API key);
- :mod:`faces.soap.service` runs the operations; :mod:`faces.soap.endpoint` is the Flask side.
"""

from __future__ import annotations
