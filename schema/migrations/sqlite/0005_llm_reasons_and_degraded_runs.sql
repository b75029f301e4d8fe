-- LLM players against real models (issue 16).

-- Each decision's short reason from the model, the model that decided
-- (`provider/model`; a fallback model of the chain may have), and the models
-- that failed before it, as JSON [{model, reason}].
ALTER TABLE decisions ADD COLUMN reason TEXT;
ALTER TABLE decisions ADD COLUMN model TEXT;
ALTER TABLE decisions ADD COLUMN steps TEXT;

-- The reasons LLM seats gave during a hand, public once it ended:
-- JSON [{seat, seq, reason}] (seq: the action's `action_taken`).
ALTER TABLE hands ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';

-- A run whose LLM seats fell back to bots too often stops as `degraded`.
-- SQLite cannot change a CHECK constraint in place: rebuild the table, and
-- its child `experiment_hands` with it (dropping a parent that rows still
-- reference would fail the foreign key check).
CREATE TABLE experiments_v5 (
    id            TEXT PRIMARY KEY,
    spec          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                  ('pending', 'running', 'paused', 'done', 'budget_reached', 'degraded', 'failed', 'cancelled')),
    hands_done    INTEGER NOT NULL DEFAULT 0,
    hands_total   INTEGER NOT NULL,
    results       TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    checkpoint    TEXT
);
INSERT INTO experiments_v5 (id, spec, status, hands_done, hands_total, results, created_at_ms, updated_at_ms, checkpoint)
    SELECT id, spec, status, hands_done, hands_total, results, created_at_ms, updated_at_ms, checkpoint FROM experiments;
CREATE TABLE experiment_hands_v5 (
    experiment_id TEXT NOT NULL REFERENCES experiments (id),
    hand          INTEGER NOT NULL,
    deal          INTEGER NOT NULL,
    rotation      INTEGER NOT NULL,
    table_index   INTEGER NOT NULL,
    agents        TEXT NOT NULL,
    nets          TEXT NOT NULL,
    phh           TEXT,
    PRIMARY KEY (experiment_id, hand)
);
INSERT INTO experiment_hands_v5 SELECT experiment_id, hand, deal, rotation, table_index, agents, nets, phh
    FROM experiment_hands;
DROP TABLE experiment_hands;
DROP TABLE experiments;
ALTER TABLE experiments_v5 RENAME TO experiments;
ALTER TABLE experiment_hands_v5 RENAME TO experiment_hands;
