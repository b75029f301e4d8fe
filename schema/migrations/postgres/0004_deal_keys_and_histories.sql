-- Reliability after a crash (issue 15).

-- Each table's secret deal key (64 hex digits): hand N's deck seed is derived
-- from it and N, so a hand re-dealt after a crash gets the same cards.
-- Tables created before this migration get a random key here
-- (gen_random_uuid draws from the server's cryptographic generator).
ALTER TABLE poker_tables ADD COLUMN deal_key TEXT NOT NULL DEFAULT '';
UPDATE poker_tables
   SET deal_key = replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
 WHERE deal_key = '';

-- Finished hands in the event log, for the start-up check that every one has
-- its history in `hands`. Partial: one entry per hand, not per event.
CREATE INDEX table_events_hand_ended ON table_events (table_id, hand) WHERE kind = 'hand_ended';
