-- Showdown store, Postgres flavour. Times are milliseconds since the Unix epoch.
-- JSON columns hold serde_json text.

CREATE TABLE players (
    id            TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE poker_tables (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    config        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'running', 'closed')),
    created_at_ms BIGINT NOT NULL
);

-- The event log: gap-free per table (enforced by the EventWriter), never two
-- events with the same (table_id, seq) (enforced here).
CREATE TABLE table_events (
    table_id   TEXT NOT NULL REFERENCES poker_tables (id),
    seq        BIGINT NOT NULL CHECK (seq >= 1),
    hand       BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    visibility TEXT NOT NULL,
    payload    TEXT NOT NULL,
    PRIMARY KEY (table_id, seq)
);

CREATE TABLE hands (
    table_id      TEXT NOT NULL REFERENCES poker_tables (id),
    hand          BIGINT NOT NULL,
    seed          TEXT NOT NULL,
    players       TEXT NOT NULL,
    pots          TEXT NOT NULL,
    winners       TEXT NOT NULL,
    phh           TEXT NOT NULL,
    first_seq     BIGINT NOT NULL,
    last_seq      BIGINT NOT NULL,
    ended_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (table_id, hand)
);

CREATE TABLE chat_messages (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id  TEXT NOT NULL REFERENCES poker_tables (id),
    player_id TEXT REFERENCES players (id),
    author    TEXT NOT NULL,
    body      TEXT NOT NULL,
    at_ms     BIGINT NOT NULL
);
CREATE INDEX chat_messages_table ON chat_messages (table_id, id);

CREATE TABLE experiments (
    id            TEXT PRIMARY KEY,
    spec          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    hands_done    BIGINT NOT NULL DEFAULT 0,
    hands_total   BIGINT NOT NULL,
    results       TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE llm_usage (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms          BIGINT NOT NULL,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    lane           TEXT NOT NULL,
    prompt_tokens  BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd       DOUBLE PRECISION NOT NULL,
    latency_ms     BIGINT NOT NULL,
    queue_wait_ms  BIGINT NOT NULL,
    retries        BIGINT NOT NULL,
    rate_limited   BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    http_status    BIGINT,
    table_id       TEXT,
    hand           BIGINT,
    experiment_id  TEXT
);
CREATE INDEX llm_usage_experiment ON llm_usage (experiment_id);
CREATE INDEX llm_usage_table ON llm_usage (table_id, hand);

-- Captured decisions: prompt and raw reply are large and private; they are
-- pruned after the retention in settings('capture_retention_ms').
CREATE TABLE decisions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms           BIGINT NOT NULL,
    table_id        TEXT,
    hand            BIGINT,
    seat            BIGINT NOT NULL,
    experiment_id   TEXT,
    source          TEXT NOT NULL,
    prompt          TEXT,
    raw_reply       TEXT,
    parsed_action   TEXT,
    fallback_reason TEXT
);
CREATE INDEX decisions_at ON decisions (at_ms);
CREATE INDEX decisions_table ON decisions (table_id, hand);
CREATE INDEX decisions_experiment ON decisions (experiment_id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
