-- Attachments (DESIGN section 11; gateway/attachments). Numbered after the issue that added
-- them so concurrent branches do not collide on a version. Times are epoch milliseconds.

CREATE TABLE attachments (
    digest     TEXT    PRIMARY KEY,          -- SHA-256, lowercase hex
    media_type TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    stored_at  INTEGER NOT NULL              -- the latest upload of these bytes
) WITHOUT ROWID;

-- who uploaded the bytes: only an uploader may reference them
CREATE TABLE attachment_uploads (
    digest      TEXT    NOT NULL,
    department  TEXT    NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (digest, department)
) WITHOUT ROWID;

-- which message references the bytes; written before the message commits, so a reference
-- whose message is absent is either in flight or of a message retention purged
CREATE TABLE attachment_refs (
    digest        TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    referenced_at INTEGER NOT NULL,
    PRIMARY KEY (digest, source, event_id)
) WITHOUT ROWID;

CREATE INDEX attachment_refs_message ON attachment_refs (source, event_id);

-- the database store's bytes, in chunks (GATEWAY_ATTACHMENT_STORE=database)
CREATE TABLE attachment_chunks (
    digest TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    data   BLOB    NOT NULL,
    PRIMARY KEY (digest, n)
) WITHOUT ROWID;
