-- The audit log and the events are keyed by `seq`, declared BIGINT PRIMARY KEY. In SQLite
-- only INTEGER PRIMARY KEY makes a column the row's own key; any other spelling keeps a
-- hidden rowid and adds a second b-tree on `seq`, which every appended entry and event
-- had to update and every read by `seq` had to look through. Both tables are rebuilt
-- with `seq` as their rowid; their rows, order and indexes stay the same.
-- Migrations only grow: never edit this file once it has shipped; add a new one instead.

CREATE TABLE audit_by_seq (
    seq     INTEGER PRIMARY KEY NOT NULL,
    sealed  TEXT NOT NULL
);
INSERT INTO audit_by_seq (seq, sealed) SELECT seq, sealed FROM audit ORDER BY seq;
DROP TABLE audit;
ALTER TABLE audit_by_seq RENAME TO audit;

CREATE TABLE events_by_seq (
    seq       INTEGER PRIMARY KEY NOT NULL,
    party_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    time_ms   BIGINT NOT NULL
);
INSERT INTO events_by_seq (seq, party_id, kind, data, time_ms)
    SELECT seq, party_id, kind, data, time_ms FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_by_seq RENAME TO events;
CREATE INDEX events_party_seq ON events (party_id, seq);
CREATE INDEX events_time ON events (time_ms);
