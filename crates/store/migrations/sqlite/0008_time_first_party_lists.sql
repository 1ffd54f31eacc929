-- The lists of a party's conflicts, alerts and hotline messages are read in time order
-- from one index per table keyed by time first, with the parties in the index so that the
-- rows of other parties are passed over without reading them; a party's events are read
-- in sequence order from the table itself (`seq` is its key). Indexes keyed by party
-- first had a tail per party, and every commit rewrote the tail page of each party it
-- touched in each of them (at 100,000 intents and 128 clients a write logs a quarter
-- less with the indexes below instead). Time-first indexes gain their new entries at one
-- end; ascending, so that it is the end SQLite appends to without splitting pages in half.
-- Newest-first lists read them backwards, sorting only rows of the same time by id.
-- A party's list now passes over the rows of other parties newer (or, for hotline
-- messages, older) than its page; with the few parties of an agreement that is a few rows
-- for each one returned, and the old indexes served the lists no better: both sides'
-- indexes were read whole and sorted for every page.
-- Migrations only grow: never edit this file once it has shipped; add a new one instead.

DROP INDEX conflicts_party_a;
DROP INDEX conflicts_party_b;
CREATE INDEX conflicts_by_opened ON conflicts (opened_ms, id, party_a, party_b);
-- The open conflicts the same way, for the lists without the resolved ones (the default).
-- The index of `resolved_ms` it replaces put every new conflict at the end of its NULL run,
-- mid-index, and left the lists to read every open conflict and sort them.
DROP INDEX conflicts_open;
CREATE INDEX conflicts_open_by_opened ON conflicts (opened_ms, id, party_a, party_b)
    WHERE resolved_ms IS NULL;
DROP INDEX alerts_party_a;
DROP INDEX alerts_party_b;
CREATE INDEX alerts_by_raised ON alerts (raised_ms, id, party_a, party_b);
DROP INDEX hotline_messages_from;
DROP INDEX hotline_messages_to;
CREATE INDEX hotline_messages_by_sent ON hotline_messages (sent_ms, id, from_party, to_party);
DROP INDEX events_party_seq;
