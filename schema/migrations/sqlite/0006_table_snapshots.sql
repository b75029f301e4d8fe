-- Table snapshots (issue 17): a table between hands, stored every thousand
-- events or so, so that a load reads the latest snapshot and the events
-- after it instead of replaying the whole log. One row per table: the latest.
CREATE TABLE table_snapshots (
    table_id    TEXT PRIMARY KEY REFERENCES poker_tables (id),
    -- The last event seq the snapshot covers.
    seq         INTEGER NOT NULL,
    -- game_core::TableSnapshot as JSON.
    state       TEXT NOT NULL,
    taken_at_ms INTEGER NOT NULL
);
