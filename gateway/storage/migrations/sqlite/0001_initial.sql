-- Messages, deliveries and the audit chain.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC: exact round trips, cheap
-- comparisons in indexes, and no text-format ambiguity between writers.

-- Sequence numbers come from a counter rather than MAX(seq) + 1 so retention (which deletes
-- old messages) can never cause a number to be handed out twice. The counter is updated in
-- the accepting transaction, so a rolled-back acceptance leaves no gap.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO counters (name, value) VALUES ('message_seq', 0);

CREATE TABLE messages (
    seq            INTEGER PRIMARY KEY,
    source         TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    subject        TEXT,
    payload_sha256 TEXT    NOT NULL,
    accepted_at    INTEGER NOT NULL,
    body           BLOB    NOT NULL,
    receipt        BLOB    NOT NULL,
    UNIQUE (source, event_id)
);

CREATE INDEX messages_accepted_at ON messages (accepted_at);

CREATE TABLE deliveries (
    seq             INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    recipient       TEXT    NOT NULL,
    mode            TEXT    NOT NULL CHECK (mode IN ('push', 'pull')),
    state           TEXT    NOT NULL
                    CHECK (state IN ('pending', 'delivered', 'dead', 'discarded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    receipt         BLOB,
    lease_owner     TEXT,
    lease_until     INTEGER,
    PRIMARY KEY (seq, recipient)
) WITHOUT ROWID;

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

-- The hash-chained audit log. ``entry`` holds the exact canonical bytes that were hashed, so
-- the verifier recomputes every link from what is stored rather than from a re-serialisation.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    entry     BLOB NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- Append-only: the gateway itself can never rewrite or delete its history (retention purges
-- messages, never audit). Someone with the file can still drop these triggers; the hash chain
-- and the signed checkpoints are what detect that.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
