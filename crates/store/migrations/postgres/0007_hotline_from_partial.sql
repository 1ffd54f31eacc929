-- The index of hotline messages by sender leaves out the service's own messages
-- (`from_party` NULL), two of every new conflict's: no query looks for them by sender
-- (`from_party = $1` never matches NULL, and implies the index's condition), yet each was an
-- entry the commit wrote.
-- Migrations only grow: never edit this file once it has shipped; add a new one instead.

DROP INDEX hotline_messages_from;
CREATE INDEX hotline_messages_from ON hotline_messages (from_party, sent_ms)
    WHERE from_party IS NOT NULL;
