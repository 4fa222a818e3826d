-- The case layer (work-injury one-thing); see the SQLite migration of the same number.
CREATE TABLE cases (
    case_id   TEXT        PRIMARY KEY,
    stage     TEXT        NOT NULL,
    status    TEXT        NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at TIMESTAMPTZ NOT NULL,
    deadline  TIMESTAMPTZ NOT NULL,
    version   INTEGER     NOT NULL,
    state     BYTEA       NOT NULL
);

CREATE INDEX cases_open_deadline ON cases (status, deadline);
