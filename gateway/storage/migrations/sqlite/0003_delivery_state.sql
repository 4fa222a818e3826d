-- Delivery state that survives (issue 12).
--
-- endpoint_state: a push endpoint that answered 410 Gone is disabled until an administrator
-- enables its department (DESIGN section 7); kept here, not in one process's memory, so every
-- restart (and, on PostgreSQL, every instance) sees it, and the admin API and metrics show it.
CREATE TABLE endpoint_state (
    recipient TEXT    PRIMARY KEY,
    gone_at   INTEGER NOT NULL,
    reason    TEXT    NOT NULL
) WITHOUT ROWID;

-- delivery_counts: pending and dead deliveries per recipient, kept by every state transition
-- in the same transaction (gateway/storage/core.py), so a metrics scrape reads a few rows
-- instead of counting every pending delivery.
CREATE TABLE delivery_counts (
    recipient TEXT    NOT NULL,
    state     TEXT    NOT NULL CHECK (state IN ('pending', 'dead')),
    n         INTEGER NOT NULL,
    PRIMARY KEY (recipient, state)
) WITHOUT ROWID;

INSERT INTO delivery_counts (recipient, state, n)
SELECT recipient, state, COUNT(*) FROM deliveries WHERE state IN ('pending', 'dead')
GROUP BY recipient, state;

-- A claim takes, per recipient, at most its free concurrency, oldest due first.
CREATE INDEX deliveries_push_due ON deliveries (recipient, next_attempt_at)
    WHERE state = 'pending' AND mode = 'push';

-- Leases by holder: renewed while attempts run, released on shutdown and at start.
CREATE INDEX deliveries_lease_owner ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
