"""The default configuration (data, not code). Packaged as ``gateway.default_config``: see
gateway/packaged.py."""
