-- A re-check of every live intent under terms that have just come into force, while it
-- runs. It goes through the intents in (party_id, id) order, a step of a few at a time
-- between other writes; each step's commit moves this row on to the last intent it
-- re-checked (NULLs: none yet), and the commit of the last step deletes it. A service
-- that stopped part-way resumes after that intent when it starts again.
-- Migrations only grow: never edit this file once it has shipped; add a new one instead.

CREATE TABLE recheck (
    id               BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    version          BIGINT NOT NULL,
    after_party_id   TEXT,
    after_intent_id  TEXT
);
