-- The case layer (work-injury one-thing): one row per case, its state as JSON.
--
-- Why a JSON document and not a table per concept: a case is read and written whole, by one
-- writer at a time (`version` is checked on every write, so two instances applying messages
-- to the same case cannot lose one another's step); the columns beside it are what the
-- deadline watch and the metrics query.
CREATE TABLE cases (
    case_id   TEXT    PRIMARY KEY,
    stage     TEXT    NOT NULL,
    status    TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at INTEGER NOT NULL,
    deadline  INTEGER NOT NULL,
    version   INTEGER NOT NULL,
    state     BLOB    NOT NULL
) WITHOUT ROWID;

CREATE INDEX cases_open_deadline ON cases (status, deadline);
