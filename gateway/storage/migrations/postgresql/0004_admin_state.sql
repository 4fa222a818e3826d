-- The administration overlay (disabled departments, added and revoked keys, route versions,
-- added departments) shared by every gateway instance on this database. One row; `version`
-- counts the changes: a change is saved only over the version it was made on, so two
-- administrators changing through different instances cannot overwrite each other, and each
-- instance sees a higher version and reloads. With SQLite the overlay stays in
-- data/admin-state.json (one instance per file).
CREATE TABLE admin_state (
    id      SMALLINT PRIMARY KEY CHECK (id = 1),
    version INTEGER  NOT NULL,
    body    BYTEA    NOT NULL
);
