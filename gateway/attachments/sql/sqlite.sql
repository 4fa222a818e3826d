-- Attachment queries for SQLite, each under its name (gateway/attachments/database.py).
-- Tables: gateway/storage/migrations/sqlite/0018_attachments.sql.

-- name: find
SELECT media_type, size FROM attachments WHERE digest = ?;

-- name: upsert_attachment
INSERT INTO attachments (digest, media_type, size, stored_at) VALUES (?, ?, ?, ?)
ON CONFLICT (digest) DO UPDATE SET stored_at = max(attachments.stored_at, excluded.stored_at);

-- name: upsert_upload
INSERT INTO attachment_uploads (digest, department, uploaded_at) VALUES (?, ?, ?)
ON CONFLICT (digest, department) DO UPDATE SET uploaded_at = excluded.uploaded_at;

-- name: uploaded_by
SELECT 1 FROM attachment_uploads WHERE digest = ? AND department = ?;

-- name: insert_ref
INSERT INTO attachment_refs (digest, source, event_id, referenced_at) VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING;

-- name: may_read
-- an uploader, or a recipient of a message that references the bytes
SELECT 1 WHERE EXISTS (
    SELECT 1 FROM attachment_uploads WHERE digest = ?1 AND department = ?2
) OR EXISTS (
    SELECT 1 FROM attachment_refs r
    JOIN messages m ON m.source = r.source AND m.event_id = r.event_id
    JOIN deliveries d ON d.seq = m.seq
    WHERE r.digest = ?1 AND d.recipient = ?2
);

-- name: purgeable
-- stored before the cutoff, and no reference keeps it: neither one recent enough to belong
-- to a message in flight nor one whose message is still kept
SELECT digest FROM attachments a WHERE a.stored_at < ?1 AND NOT EXISTS (
    SELECT 1 FROM attachment_refs r WHERE r.digest = a.digest AND (
        r.referenced_at >= ?1 OR EXISTS (
            SELECT 1 FROM messages m WHERE m.source = r.source AND m.event_id = r.event_id
        )
    )
) LIMIT 100;

-- name: delete_if_purgeable
DELETE FROM attachments WHERE digest = ?2 AND stored_at < ?1 AND NOT EXISTS (
    SELECT 1 FROM attachment_refs r WHERE r.digest = ?2 AND (
        r.referenced_at >= ?1 OR EXISTS (
            SELECT 1 FROM messages m WHERE m.source = r.source AND m.event_id = r.event_id
        )
    )
);

-- name: delete_uploads
DELETE FROM attachment_uploads WHERE digest = ?;

-- name: delete_refs
DELETE FROM attachment_refs WHERE digest = ?;

-- name: delete_chunks
DELETE FROM attachment_chunks WHERE digest = ?;

-- name: insert_chunk
-- the same digest is the same bytes: a concurrent upload of them writes the same rows
INSERT INTO attachment_chunks (digest, n, data) VALUES (?, ?, ?)
ON CONFLICT (digest, n) DO NOTHING;

-- name: chunk
SELECT data FROM attachment_chunks WHERE digest = ? AND n = ?;

-- name: has_chunks
SELECT 1 FROM attachment_chunks WHERE digest = ? AND n = 0;

-- name: digests_of
SELECT digest FROM attachment_refs WHERE source = ? AND event_id = ? ORDER BY digest;
