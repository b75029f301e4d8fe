-- Experiments run by the server: paused and budget-stopped runs, the
-- runner's checkpoint (resume after a restart), and one row per hand played.

ALTER TABLE experiments DROP CONSTRAINT experiments_status_check;
ALTER TABLE experiments ADD CONSTRAINT experiments_status_check CHECK (status IN
    ('pending', 'running', 'paused', 'done', 'budget_reached', 'failed', 'cancelled'));
-- The runner's checkpoint (JSON), written in the same transaction as the
-- hands it covers.
ALTER TABLE experiments ADD COLUMN checkpoint TEXT;

-- One row per hand of an experiment, in the run's order (hand = index from 0).
CREATE TABLE experiment_hands (
    experiment_id TEXT NOT NULL REFERENCES experiments (id),
    hand          BIGINT NOT NULL,
    deal          BIGINT NOT NULL,
    rotation      BIGINT NOT NULL,
    table_index   BIGINT NOT NULL,
    -- JSON arrays, one entry per seat: the agent's name and its net chips.
    agents        TEXT NOT NULL,
    nets          TEXT NOT NULL,
    -- The hand history (PHH), when the spec asks for histories.
    phh           TEXT,
    PRIMARY KEY (experiment_id, hand)
);
