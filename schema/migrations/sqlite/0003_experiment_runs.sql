-- Experiments run by the server: paused and budget-stopped runs, the
-- runner's checkpoint (resume after a restart), and one row per hand played.

-- SQLite cannot change a CHECK constraint in place: rebuild the table
-- (nothing references it by foreign key).
CREATE TABLE experiments_v3 (
    id            TEXT PRIMARY KEY,
    spec          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                  ('pending', 'running', 'paused', 'done', 'budget_reached', 'failed', 'cancelled')),
    hands_done    INTEGER NOT NULL DEFAULT 0,
    hands_total   INTEGER NOT NULL,
    results       TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    -- The runner's checkpoint (JSON), written in the same transaction as the
    -- hands it covers.
    checkpoint    TEXT
);
INSERT INTO experiments_v3 (id, spec, status, hands_done, hands_total, results, created_at_ms, updated_at_ms)
    SELECT id, spec, status, hands_done, hands_total, results, created_at_ms, updated_at_ms FROM experiments;
DROP TABLE experiments;
ALTER TABLE experiments_v3 RENAME TO experiments;

-- One row per hand of an experiment, in the run's order (hand = index from 0).
CREATE TABLE experiment_hands (
    experiment_id TEXT NOT NULL REFERENCES experiments (id),
    hand          INTEGER NOT NULL,
    deal          INTEGER NOT NULL,
    rotation      INTEGER NOT NULL,
    table_index   INTEGER NOT NULL,
    -- JSON arrays, one entry per seat: the agent's name and its net chips.
    agents        TEXT NOT NULL,
    nets          TEXT NOT NULL,
    -- The hand history (PHH), when the spec asks for histories.
    phh           TEXT,
    PRIMARY KEY (experiment_id, hand)
);
