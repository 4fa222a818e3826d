"""The JSON Schemas (data, not code). Packaged as ``gateway.schemas``: see gateway/packaged.py."""
