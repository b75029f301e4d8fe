-- Showdown store, SQLite flavour. Times are milliseconds since the Unix epoch.
-- JSON columns hold serde_json text.

CREATE TABLE players (
    id            TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE poker_tables (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    config        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'running', 'closed')),
    created_at_ms INTEGER NOT NULL
);

-- The event log: gap-free per table (enforced by the EventWriter), never two
-- events with the same (table_id, seq) (enforced here). A rowid table with a
-- unique index rather than WITHOUT ROWID: rows append at the end of the file
-- and only the small index takes the interleaved inserts of many tables
-- (twice the insert rate at 1,000 tables).
CREATE TABLE table_events (
    id         INTEGER PRIMARY KEY,
    table_id   TEXT NOT NULL REFERENCES poker_tables (id),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    hand       INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    visibility TEXT NOT NULL,
    payload    TEXT NOT NULL,
    UNIQUE (table_id, seq)
);

CREATE TABLE hands (
    table_id      TEXT NOT NULL REFERENCES poker_tables (id),
    hand          INTEGER NOT NULL,
    seed          TEXT NOT NULL,
    players       TEXT NOT NULL,
    pots          TEXT NOT NULL,
    winners       TEXT NOT NULL,
    phh           TEXT NOT NULL,
    first_seq     INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL,
    ended_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (table_id, hand)
);

CREATE TABLE chat_messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    table_id  TEXT NOT NULL REFERENCES poker_tables (id),
    player_id TEXT REFERENCES players (id),
    author    TEXT NOT NULL,
    body      TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX chat_messages_table ON chat_messages (table_id, id);

CREATE TABLE experiments (
    id            TEXT PRIMARY KEY,
    spec          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    hands_done    INTEGER NOT NULL DEFAULT 0,
    hands_total   INTEGER NOT NULL,
    results       TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE llm_usage (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms          INTEGER NOT NULL,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    lane           TEXT NOT NULL,
    prompt_tokens  INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd       REAL NOT NULL,
    latency_ms     INTEGER NOT NULL,
    queue_wait_ms  INTEGER NOT NULL,
    retries        INTEGER NOT NULL,
    rate_limited   INTEGER NOT NULL,
    outcome        TEXT NOT NULL,
    http_status    INTEGER,
    table_id       TEXT,
    hand           INTEGER,
    experiment_id  TEXT
);
CREATE INDEX llm_usage_experiment ON llm_usage (experiment_id);
CREATE INDEX llm_usage_table ON llm_usage (table_id, hand);

-- Captured decisions: prompt and raw reply are large and private; they are
-- pruned after the retention in settings('capture_retention_ms').
CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms           INTEGER NOT NULL,
    table_id        TEXT,
    hand            INTEGER,
    seat            INTEGER NOT NULL,
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
