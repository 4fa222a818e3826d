-- Department API tokens already used (DESIGN section 6: single use). Kept in the database so
-- that a token used on one gateway instance is refused on every other; each row lives until
-- the token would have expired anyway. SQLite has no such table: one process serves one file,
-- and its memory is enough.
CREATE TABLE token_uses (
    key        TEXT        PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX token_uses_expires_at ON token_uses (expires_at);
