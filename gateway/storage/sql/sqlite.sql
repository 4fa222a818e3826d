-- SQLite's spelling where it differs from common.sql. Times are INTEGER microseconds since
-- the epoch; lists travel as one JSON array parameter read with json_each, so no statement
-- is built from input and no call is limited in how many numbers it may carry. Every
-- write runs on the store's one writer thread, so nothing here needs a lock.

-- next_message_seq --
-- A counter, not MAX(seq) + 1: retention never makes a number come round again.
UPDATE counters SET value = value + 1 WHERE name = 'message_seq' RETURNING value;

-- store_message --
-- The message and its deliveries; the result is the audit chain's head, as audit_head.
INSERT INTO messages (seq, source, event_id, type, subject, payload_sha256, accepted_at,
    body, receipt)
VALUES (:seq, :source, :event_id, :type, :subject, :payload_sha256, :accepted_at,
    :body, :receipt);
INSERT INTO deliveries (seq, recipient, mode, state, attempts, next_attempt_at)
SELECT :seq, r.value, k.value, 'pending', 0, CASE k.value WHEN 'push' THEN :accepted_at END
FROM json_each(:recipients) r JOIN json_each(:modes) k ON k.key = r.key;
INSERT INTO delivery_counts (recipient, state, n)
SELECT value, 'pending', 1 FROM json_each(:recipients) WHERE true
ON CONFLICT (recipient, state) DO UPDATE SET n = delivery_counts.n + 1;
SELECT MAX(seq), hash FROM audit_log;

-- audit_head --
-- The last entry's seq and hash. A bare column beside MAX() comes from the row holding the
-- maximum (SQLite, "SELECT", bare columns in an aggregate query): one indexed step, and one
-- row of NULLs when the chain is empty.
SELECT MAX(seq), hash FROM audit_log;

-- claim_due --
-- One recipient's due push deliveries without a live lease, oldest first, with their
-- messages (index deliveries_push_due); :limit is what it can start now.
SELECT {delivery_columns}, {message_columns} FROM deliveries d JOIN messages m USING (seq)
WHERE d.recipient = :recipient AND d.state = 'pending' AND d.mode = 'push'
    AND d.next_attempt_at <= :now AND (d.lease_until IS NULL OR d.lease_until <= :now)
ORDER BY d.next_attempt_at, d.seq LIMIT :limit;

-- next_due --
-- When the earliest pending push delivery of these recipients falls due (leases ignored).
SELECT MIN(next_attempt_at) FROM deliveries
WHERE state = 'pending' AND mode = 'push' AND recipient IN (SELECT value FROM json_each(:recipients));

-- lease --
UPDATE deliveries SET lease_owner = :owner, lease_until = :until
FROM (SELECT s.value AS seq, r.value AS recipient
      FROM json_each(:seqs) s JOIN json_each(:recipients) r ON r.key = s.key) AS c
WHERE deliveries.seq = c.seq AND deliveries.recipient = c.recipient;

-- replay --
-- Dead -> pending with a fresh budget, due now (push) or back in the inbox (pull).
UPDATE deliveries SET state = 'pending', attempts = 0,
    next_attempt_at = CASE mode WHEN 'push' THEN :now END,
    lease_owner = NULL, lease_until = NULL
WHERE seq = :seq AND recipient = :recipient AND state = 'dead' RETURNING mode;

-- ack --
UPDATE deliveries SET state = 'delivered', delivered_at = :at
WHERE recipient = :recipient AND mode = 'pull' AND state = 'pending'
    AND seq IN (SELECT value FROM json_each(:seqs));

-- purge --
-- One chunk of finished messages accepted before :before; deliveries go by cascade.
DELETE FROM messages WHERE seq IN (
    SELECT m.seq FROM messages m WHERE m.accepted_at < :before
        AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq
                        AND d.state NOT IN ('delivered', 'discarded'))
    ORDER BY m.accepted_at LIMIT :limit);
