-- Chip balances. A player's chips live in exactly one place: their balance
-- (off the tables), a pending buy-in (taken from the balance, seat not yet
-- confirmed in the table's event log), or a table's event log (seated).

-- Chips in the player's account, off the tables.
ALTER TABLE players ADD COLUMN balance BIGINT NOT NULL DEFAULT 0;

-- Server-owned JSON: buy-in range, clocks, pace, AI seats.
ALTER TABLE poker_tables ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- Buy-ins whose chips left the balance but whose seat is not yet confirmed in
-- the table's event log. On recovery each row is either confirmed (the seat is
-- in the log: delete the row) or refunded (credit the balance, delete the row).
CREATE TABLE buy_ins (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    player_id     TEXT NOT NULL REFERENCES players (id),
    table_id      TEXT NOT NULL REFERENCES poker_tables (id),
    seat          BIGINT NOT NULL,
    amount        BIGINT NOT NULL,
    after_seq     BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX buy_ins_table ON buy_ins (table_id);

-- One row per SeatLeft event that paid a player: the primary key makes each
-- cash-out credit the balance exactly once, however often it is retried.
CREATE TABLE cash_outs (
    table_id  TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    player_id TEXT NOT NULL REFERENCES players (id),
    amount    BIGINT NOT NULL,
    at_ms     BIGINT NOT NULL,
    PRIMARY KEY (table_id, seq)
);
