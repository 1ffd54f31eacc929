-- The first schema of the embedded store. Migrations only grow: never edit this file
-- once it has shipped; add a new one instead.

CREATE TABLE parties (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    token_sha256  TEXT NOT NULL UNIQUE,
    created_ms    BIGINT NOT NULL
);

CREATE TABLE agreements (
    version      BIGINT PRIMARY KEY NOT NULL,
    terms        TEXT NOT NULL,
    proposed_by  TEXT,
    proposed_ms  BIGINT NOT NULL,
    status       TEXT NOT NULL,
    decided_ms   BIGINT
);

CREATE TABLE agreement_answers (
    version      BIGINT NOT NULL,
    party_id     TEXT NOT NULL,
    accepted     BIGINT NOT NULL,
    answered_ms  BIGINT NOT NULL,
    PRIMARY KEY (version, party_id)
);

CREATE TABLE intents (
    party_id    TEXT NOT NULL,
    id          TEXT NOT NULL,
    version     BIGINT NOT NULL,
    state       TEXT NOT NULL,
    volumes     TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (party_id, id)
);

CREATE TABLE conflicts (
    id           TEXT PRIMARY KEY NOT NULL,
    party_a      TEXT NOT NULL,
    intent_a     TEXT NOT NULL,
    party_b      TEXT NOT NULL,
    intent_b     TEXT NOT NULL,
    opened_ms    BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    resolved_ms  BIGINT,
    acked_a_ms   BIGINT,
    acked_b_ms   BIGINT,
    details      TEXT NOT NULL
);
CREATE INDEX conflicts_party_a ON conflicts (party_a, opened_ms);
CREATE INDEX conflicts_party_b ON conflicts (party_b, opened_ms);
CREATE INDEX conflicts_open ON conflicts (resolved_ms);

CREATE TABLE events (
    seq       BIGINT PRIMARY KEY NOT NULL,
    party_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    time_ms   BIGINT NOT NULL
);
CREATE INDEX events_party_seq ON events (party_id, seq);
CREATE INDEX events_time ON events (time_ms);

CREATE TABLE audit (
    seq     BIGINT PRIMARY KEY NOT NULL,
    sealed  TEXT NOT NULL
);

CREATE TABLE server_key (
    id    BIGINT PRIMARY KEY NOT NULL,
    seed  TEXT NOT NULL
);
