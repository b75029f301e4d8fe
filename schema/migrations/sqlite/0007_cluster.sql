-- Leases (issue 18): a SQLite store serves one node, which never fences;
-- the tables exist so that both backends share one schema and one set of
-- statements. Several nodes on one Postgres (issue 18). A node registers one row per
-- process start and renews it on the database clock; a table is owned by
-- the node holding its lease, and every write of a table's events or money
-- checks the lease's epoch in its own transaction (fencing).
CREATE TABLE nodes (
    -- Unique per process start (a restarted node is a new instance).
    instance      TEXT PRIMARY KEY,
    -- The operator's name for the node (`--node-id`); one live instance each.
    name          TEXT NOT NULL,
    -- Where peers reach it (`--advertise`).
    address       TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    -- Milliseconds since the epoch, on the database clock.
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX nodes_name ON nodes (name);

CREATE TABLE table_leases (
    table_id      TEXT PRIMARY KEY REFERENCES poker_tables (id),
    -- The owning instance; NULL once released.
    owner         TEXT,
    -- Bumped by every claim: writes fenced with an older epoch fail.
    epoch         BIGINT NOT NULL,
    claimed_at_ms BIGINT NOT NULL
);
CREATE INDEX table_leases_owner ON table_leases (owner);
