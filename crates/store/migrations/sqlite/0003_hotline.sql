-- The hotline: messages between duty officers (and from the service itself, with
-- from_party NULL), each with an answer deadline. Migrations only grow: never edit this
-- file once it has shipped; add a new one instead.

CREATE TABLE hotline_messages (
    id               TEXT PRIMARY KEY NOT NULL,
    thread           TEXT NOT NULL,
    from_party       TEXT,
    to_party         TEXT NOT NULL,
    message_text     TEXT NOT NULL,
    about            TEXT,
    reply_to         TEXT,
    sent_ms          BIGINT NOT NULL,
    answer_within_s  REAL NOT NULL,
    answer_by_ms     BIGINT NOT NULL,
    acked_ms         BIGINT,
    acked_by         TEXT,
    escalated_ms     BIGINT
);
CREATE INDEX hotline_messages_from ON hotline_messages (from_party, sent_ms);
CREATE INDEX hotline_messages_to ON hotline_messages (to_party, sent_ms);
CREATE INDEX hotline_messages_thread ON hotline_messages (thread, sent_ms);
CREATE INDEX hotline_messages_unanswered ON hotline_messages (answer_by_ms)
    WHERE acked_ms IS NULL AND escalated_ms IS NULL;
