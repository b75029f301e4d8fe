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
ALTER TABLE experiments DROP CONSTRAINT experiments_status_check;
ALTER TABLE experiments ADD CONSTRAINT experiments_status_check CHECK (status IN
    ('pending', 'running', 'paused', 'done', 'budget_reached', 'degraded', 'failed', 'cancelled'));
