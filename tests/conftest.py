"""Shared fixtures. Area-specific fixtures live in each area's own conftest."""
