-- Messages, deliveries and the audit chain (PostgreSQL).
--
-- Times are TIMESTAMPTZ (microsecond precision, stored as UTC).

-- Sequence numbers come from a SEQUENCE: several gateway instances can allocate without
-- serialising on one counter row. A rolled-back acceptance (or the loser of a concurrent
-- duplicate) consumes a number, so on PostgreSQL the numbering may have gaps; it is still
-- strictly increasing and never reused, even after retention deletes old messages.
CREATE SEQUENCE message_seq AS BIGINT START WITH 1;

CREATE TABLE messages (
    seq            BIGINT      PRIMARY KEY,
    source         TEXT        NOT NULL,
    event_id       TEXT        NOT NULL,
    type           TEXT        NOT NULL,
    subject        TEXT,
    payload_sha256 TEXT        NOT NULL,
    accepted_at    TIMESTAMPTZ NOT NULL,
    body           BYTEA       NOT NULL,
    receipt        BYTEA       NOT NULL,
    CONSTRAINT messages_source_event_id UNIQUE (source, event_id)
);

CREATE INDEX messages_accepted_at ON messages (accepted_at);

CREATE TABLE deliveries (
    seq             BIGINT      NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    recipient       TEXT        NOT NULL,
    mode            TEXT        NOT NULL CHECK (mode IN ('push', 'pull')),
    state           TEXT        NOT NULL
                    CHECK (state IN ('pending', 'delivered', 'dead', 'discarded')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    receipt         BYTEA,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    PRIMARY KEY (seq, recipient)
);

-- The dispatcher's question: which push deliveries are due?
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq)
    WHERE state = 'pending' AND mode = 'push';

-- A pulling department's inbox, in sequence order.
CREATE INDEX deliveries_inbox ON deliveries (recipient, seq)
    WHERE state = 'pending' AND mode = 'pull';

-- Dead letters, per recipient.
CREATE INDEX deliveries_dead ON deliveries (recipient, seq) WHERE state = 'dead';

-- Retention and statistics look at what is not finished yet.
CREATE INDEX deliveries_open ON deliveries (state, recipient);

-- The hash-chained audit log: one chain for all instances. Writers take a transaction-level
-- advisory lock before reading the head, so seq is contiguous and every prev_hash is the
-- previous entry's hash. ``entry`` holds the exact canonical bytes that were hashed.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    entry     BYTEA  NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL
);

-- Append-only for the gateway itself; the hash chain and signed checkpoints detect anyone
-- who bypasses this (a superuser can disable triggers).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
