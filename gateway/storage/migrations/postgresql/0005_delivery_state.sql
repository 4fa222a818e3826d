-- Delivery state that survives (issue 12). See the SQLite migration of the same name.
CREATE TABLE endpoint_state (
    recipient TEXT        PRIMARY KEY,
    gone_at   TIMESTAMPTZ NOT NULL,
    reason    TEXT        NOT NULL
);

CREATE TABLE delivery_counts (
    recipient TEXT   NOT NULL,
    state     TEXT   NOT NULL CHECK (state IN ('pending', 'dead')),
    n         BIGINT NOT NULL,
    PRIMARY KEY (recipient, state)
);

INSERT INTO delivery_counts (recipient, state, n)
SELECT recipient, state, COUNT(*) FROM deliveries WHERE state IN ('pending', 'dead')
GROUP BY recipient, state;

CREATE INDEX deliveries_push_due ON deliveries (recipient, next_attempt_at)
    WHERE state = 'pending' AND mode = 'push';

-- The oldest pending delivery of a recipient, for its age gauge: one index step.
CREATE INDEX deliveries_pending ON deliveries (recipient, seq) WHERE state = 'pending';

CREATE INDEX deliveries_lease_owner ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
