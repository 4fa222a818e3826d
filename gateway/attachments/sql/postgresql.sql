-- Attachment queries for PostgreSQL, each under its name (gateway/attachments/database.py).
-- Tables: gateway/storage/migrations/postgresql/0018_attachments.sql.

-- name: find
SELECT media_type, size FROM attachments WHERE digest = $1;

-- name: upsert_attachment
INSERT INTO attachments (digest, media_type, size, stored_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (digest) DO UPDATE SET stored_at = GREATEST(attachments.stored_at, excluded.stored_at);

-- name: upsert_upload
INSERT INTO attachment_uploads (digest, department, uploaded_at) VALUES ($1, $2, $3)
ON CONFLICT (digest, department) DO UPDATE SET uploaded_at = excluded.uploaded_at;

-- name: uploaded_by
SELECT 1 FROM attachment_uploads WHERE digest = $1 AND department = $2;

-- name: insert_ref
INSERT INTO attachment_refs (digest, source, event_id, referenced_at) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: may_read
-- an uploader, or a recipient of a message that references the bytes
SELECT 1 WHERE EXISTS (
    SELECT 1 FROM attachment_uploads WHERE digest = $1 AND department = $2
) OR EXISTS (
    SELECT 1 FROM attachment_refs r
    JOIN messages m ON m.source = r.source AND m.event_id = r.event_id
    JOIN deliveries d ON d.seq = m.seq
    WHERE r.digest = $1 AND d.recipient = $2
);

-- name: purgeable
-- stored before the cutoff, and no reference keeps it: neither one recent enough to belong
-- to a message in flight nor one whose message is still kept
SELECT digest FROM attachments a WHERE a.stored_at < $1 AND NOT EXISTS (
    SELECT 1 FROM attachment_refs r WHERE r.digest = a.digest AND (
        r.referenced_at >= $1 OR EXISTS (
            SELECT 1 FROM messages m WHERE m.source = r.source AND m.event_id = r.event_id
        )
    )
) LIMIT 100;

-- name: delete_if_purgeable
DELETE FROM attachments WHERE digest = $2 AND stored_at < $1 AND NOT EXISTS (
    SELECT 1 FROM attachment_refs r WHERE r.digest = $2 AND (
        r.referenced_at >= $1 OR EXISTS (
            SELECT 1 FROM messages m WHERE m.source = r.source AND m.event_id = r.event_id
        )
    )
);

-- name: delete_uploads
DELETE FROM attachment_uploads WHERE digest = $1;

-- name: delete_refs
DELETE FROM attachment_refs WHERE digest = $1;

-- name: delete_chunks
DELETE FROM attachment_chunks WHERE digest = $1;

-- name: insert_chunk
-- the same digest is the same bytes: a concurrent upload of them writes the same rows
INSERT INTO attachment_chunks (digest, n, data) VALUES ($1, $2, $3)
ON CONFLICT (digest, n) DO NOTHING;

-- name: chunk
SELECT data FROM attachment_chunks WHERE digest = $1 AND n = $2;

-- name: has_chunks
SELECT 1 FROM attachment_chunks WHERE digest = $1 AND n = 0;

-- name: digests_of
SELECT digest FROM attachment_refs WHERE source = $1 AND event_id = $2 ORDER BY digest;
