"""The HTTP service: REST API, CDS Hooks 2.0 services and the web page, over one engine."""
