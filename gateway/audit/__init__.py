"""The append-only, hash-chained audit log (DESIGN section 9)."""
