-- PostgreSQL's spelling where it differs from common.sql: the audit chain's advisory lock
-- (key 2053797985, 0x7A6A7861, "zjxa"), FOR UPDATE SKIP LOCKED, NOTIFY on zjx_deliveries
-- (gateway.storage.postgres.CHANNEL), arrays, and the tables only a shared store has.

-- next_message_seq --
-- The audit lock, then a message number, in one round trip: sequence order is commit
-- order (docs/decisions.md, "Storage"). MATERIALIZED fences the lock before nextval.
WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(2053797985))
SELECT nextval('message_seq') FROM locked;

-- store_message --
-- Message, deliveries and NOTIFY (:wake; none if NULL) in one statement, returning the
-- audit chain's head. It runs in a statement after the lock was taken: READ COMMITTED
-- snapshots are per statement, and the head must include the previous holder's entry. No
-- row: (source, event_id) exists already (ON CONFLICT), nothing written, nothing notified.
WITH m AS (INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256,
        accepted_at, body, receipt)
    VALUES (:seq, :source, :event_id, :type, :subject, :payload_sha256, :accepted_at,
        :body, :receipt)
    ON CONFLICT (source, event_id) DO NOTHING RETURNING seq),
r AS (SELECT * FROM unnest(:recipients::text[], :modes::text[]) AS r(recipient, mode)),
d AS (INSERT INTO deliveries (seq, recipient, mode, state, attempts, next_attempt_at)
    SELECT m.seq, r.recipient, r.mode, 'pending', 0,
        CASE WHEN r.mode = 'push' THEN :accepted_at::timestamptz END FROM m, r),
c AS (INSERT INTO delivery_counts (recipient, state, n) SELECT r.recipient, 'pending', 1 FROM m, r
    ON CONFLICT (recipient, state) DO UPDATE SET n = delivery_counts.n + 1)
SELECT h.seq, h.hash,
    CASE WHEN :wake::text IS NOT NULL THEN pg_notify('zjx_deliveries', :wake::text) END
FROM m LEFT JOIN (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) h ON true;

-- audit_head --
-- The lock first, then the head in a statement of its own (a snapshot taken after it).
SELECT pg_advisory_xact_lock(2053797985);
SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;

-- claim_due --
-- As SQLite's, skipping rows another instance is claiming this moment.
SELECT {delivery_columns}, {message_columns} FROM deliveries d JOIN messages m USING (seq)
WHERE d.recipient = :recipient AND d.state = 'pending' AND d.mode = 'push'
    AND d.next_attempt_at <= :now AND (d.lease_until IS NULL OR d.lease_until <= :now)
ORDER BY d.next_attempt_at, d.seq LIMIT :limit
FOR UPDATE OF d SKIP LOCKED;

-- next_due --
SELECT MIN(next_attempt_at) FROM deliveries
WHERE state = 'pending' AND mode = 'push' AND recipient = ANY(:recipients::text[]);

-- lease --
UPDATE deliveries SET lease_owner = :owner, lease_until = :until
FROM unnest(:seqs::bigint[], :recipients::text[]) AS c(seq, recipient)
WHERE deliveries.seq = c.seq AND deliveries.recipient = c.recipient;

-- replay --
UPDATE deliveries SET state = 'pending', attempts = 0,
    next_attempt_at = CASE mode WHEN 'push' THEN :now::timestamptz END,
    lease_owner = NULL, lease_until = NULL
WHERE seq = :seq AND recipient = :recipient AND state = 'dead' RETURNING mode;

-- notify --
SELECT pg_notify('zjx_deliveries', :wake);

-- ack --
UPDATE deliveries SET state = 'delivered', delivered_at = :at
WHERE recipient = :recipient AND mode = 'pull' AND state = 'pending'
    AND seq = ANY(:seqs::bigint[]);

-- purge --
-- As SQLite's; rows another instance is purging this moment are skipped.
DELETE FROM messages WHERE seq IN (
    SELECT m.seq FROM messages m WHERE m.accepted_at < :before
        AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq
                        AND d.state NOT IN ('delivered', 'discarded'))
    ORDER BY m.accepted_at LIMIT :limit FOR UPDATE SKIP LOCKED);

-- forget_token_uses --
-- Uses of tokens that have expired anyway (indexed, so cheap on every claim).
DELETE FROM token_uses WHERE expires_at <= :now;

-- use_token --
INSERT INTO token_uses (key, expires_at) VALUES (:key, :expires) ON CONFLICT (key) DO NOTHING;

-- admin_state --
SELECT version, body FROM admin_state WHERE id = 1;

-- admin_state_version --
SELECT version FROM admin_state WHERE id = 1;

-- insert_admin_state --
INSERT INTO admin_state (id, version, body) VALUES (1, :version, :body)
ON CONFLICT (id) DO NOTHING;

-- update_admin_state --
UPDATE admin_state SET version = :version, body = :body WHERE id = 1 AND version = :previous;
