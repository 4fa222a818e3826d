-- Queries both dialects spell alike. Named parameters (:seq); {message_columns} and the
-- other column lists come from gateway/storage/rows.py. See gateway/storage/sql/__init__.py.

-- find_message --
-- A message by its idempotency key (source, event id).
SELECT {message_columns} FROM messages m WHERE m.source = :source AND m.event_id = :event_id;

-- get_message --
SELECT {message_columns} FROM messages m WHERE m.seq = :seq;

-- deliveries_for --
-- Every recipient's delivery of one message.
SELECT {delivery_columns} FROM deliveries d JOIN messages m USING (seq)
WHERE d.seq = :seq ORDER BY d.recipient;

-- delivery_state --
SELECT state FROM deliveries WHERE seq = :seq AND recipient = :recipient;

-- mark_delivered --
UPDATE deliveries SET state = 'delivered', delivered_at = :at, receipt = :receipt,
    last_error = NULL, lease_owner = NULL, lease_until = NULL
WHERE seq = :seq AND recipient = :recipient AND state = 'pending';

-- mark_retry --
UPDATE deliveries SET attempts = :attempts, next_attempt_at = :next_at, last_error = :error,
    lease_owner = NULL, lease_until = NULL
WHERE seq = :seq AND recipient = :recipient AND state = 'pending';

-- mark_dead --
UPDATE deliveries SET state = 'dead', attempts = :attempts, last_error = :error,
    lease_owner = NULL, lease_until = NULL
WHERE seq = :seq AND recipient = :recipient AND state = 'pending';

-- list_dead --
-- Dead letters, of one recipient or (NULL) of all.
SELECT {delivery_columns} FROM deliveries d JOIN messages m USING (seq)
WHERE d.state = 'dead'
    AND (CAST(:recipient AS TEXT) IS NULL OR d.recipient = CAST(:recipient AS TEXT))
ORDER BY d.seq, d.recipient LIMIT :limit;

-- discard --
UPDATE deliveries SET state = 'discarded', lease_owner = NULL, lease_until = NULL
WHERE seq = :seq AND recipient = :recipient AND state = 'dead';

-- inbox --
-- A pulling recipient's pending messages after a sequence number, in sequence order: at most
-- :limit of them and at most :max_bytes of bodies (the first whatever its size). The sizes
-- come from the record headers (length of a blob or bytea reads no overflow or TOAST page) and
-- are summed over seq and size alone; the bodies are then read once, in index order, with
-- nothing sorted that holds them.
WITH head AS (SELECT d.seq, length(m.body) AS size FROM deliveries d JOIN messages m USING (seq)
    WHERE d.recipient = :recipient AND d.mode = 'pull' AND d.state = 'pending' AND d.seq > :after
    ORDER BY d.seq LIMIT :limit),
sized AS (SELECT seq, SUM(size) OVER (ORDER BY seq) AS upto,
    ROW_NUMBER() OVER (ORDER BY seq) AS n FROM head)
SELECT {message_columns} FROM deliveries d JOIN messages m USING (seq)
WHERE d.recipient = :recipient AND d.mode = 'pull' AND d.state = 'pending' AND d.seq > :after
    AND d.seq <= (SELECT MAX(seq) FROM sized WHERE upto <= :max_bytes OR n = 1)
ORDER BY d.seq;

-- insert_audit --
INSERT INTO audit_log (seq, entry, prev_hash, hash) VALUES (:seq, :entry, :prev_hash, :hash);

-- audit_rows --
SELECT seq, entry, prev_hash, hash FROM audit_log WHERE seq > :after ORDER BY seq LIMIT :limit;

-- delivery_counts --
-- Pending and dead deliveries per recipient, as every state transition keeps them.
SELECT recipient, state, n FROM delivery_counts WHERE n <> 0;

-- count --
-- A state transition's change to the counts (after its audit entry, so the audit lock is
-- always taken before a count row's on PostgreSQL).
INSERT INTO delivery_counts (recipient, state, n) VALUES (:recipient, :state, :n)
ON CONFLICT (recipient, state) DO UPDATE SET n = delivery_counts.n + excluded.n;

-- oldest_pending --
-- When a recipient's oldest pending message was accepted: one index step.
SELECT m.accepted_at FROM deliveries d JOIN messages m USING (seq)
WHERE d.state = 'pending' AND d.recipient = :recipient ORDER BY d.seq LIMIT 1;

-- renew_claims --
UPDATE deliveries SET lease_until = :until WHERE lease_owner = :owner AND state = 'pending';

-- release_claims --
UPDATE deliveries SET lease_owner = NULL, lease_until = NULL
WHERE lease_owner = :owner AND state = 'pending';

-- release_claim --
UPDATE deliveries SET lease_owner = NULL, lease_until = NULL
WHERE seq = :seq AND recipient = :recipient AND lease_owner = :owner;

-- gone_endpoints --
SELECT recipient, gone_at, reason FROM endpoint_state;

-- mark_gone --
INSERT INTO endpoint_state (recipient, gone_at, reason) VALUES (:recipient, :at, :reason)
ON CONFLICT (recipient) DO NOTHING;

-- clear_gone --
DELETE FROM endpoint_state WHERE recipient = :recipient;

-- get_case --
SELECT {case_columns} FROM cases WHERE case_id = :case_id;

-- insert_case --
INSERT INTO cases (case_id, stage, status, version, state, opened_at, deadline)
VALUES (:case_id, :stage, :status, :version, :state, :opened_at, :deadline)
ON CONFLICT (case_id) DO NOTHING;

-- update_case --
-- Optimistic locking: only over the version the change was made on.
UPDATE cases SET stage = :stage, status = :status, version = :version, state = :state
WHERE case_id = :case_id AND version = :previous;

-- open_cases --
SELECT {case_columns} FROM cases WHERE status = 'open' ORDER BY deadline LIMIT :limit;

-- count_open_cases --
SELECT stage, COUNT(*) FROM cases WHERE status = 'open' GROUP BY stage;

-- closed_cases --
-- The case layer's statistics: closed cases opened since a time, oldest first.
SELECT {case_columns} FROM cases WHERE status = 'closed' AND opened_at >= :since
ORDER BY opened_at LIMIT :limit;

-- messages_after --
SELECT {message_columns} FROM messages m
WHERE m.seq > :after AND m.accepted_at >= :since ORDER BY m.seq LIMIT :limit;

-- ping --
SELECT 1;

-- reseal_messages_after --
-- Message bodies in sequence order, for re-sealing under the active at-rest key.
SELECT seq, body FROM messages WHERE seq > :after ORDER BY seq LIMIT :limit;

-- reseal_message --
UPDATE messages SET body = :body WHERE seq = :seq AND body = :old;

-- reseal_cases_after --
-- Case states in case id order, for re-sealing under the active at-rest key.
SELECT case_id, version, state FROM cases WHERE case_id > :after ORDER BY case_id LIMIT :limit;

-- reseal_case --
-- Same version only: a case written since was sealed by that write.
UPDATE cases SET state = :state WHERE case_id = :case_id AND version = :version;
