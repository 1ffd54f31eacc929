-- Whether a party's `party.added` entry is in the audit log. Parties the service adds
-- through its API are audited in the same transaction (the default, TRUE); `party add`
-- writes to the store directly with FALSE, and the service appends the entry when it
-- next reads the parties. Parties added directly before this migration have no entry:
-- they are marked so that the service audits them at its next start.
-- Migrations only grow: never edit this file once it has shipped; add a new one instead.

ALTER TABLE parties ADD COLUMN audited BOOLEAN NOT NULL DEFAULT TRUE;

UPDATE parties SET audited = FALSE
WHERE id NOT IN (
    SELECT json_extract(sealed, '$.body.party') FROM audit
    WHERE json_extract(sealed, '$.kind') = 'party.added'
      AND json_extract(sealed, '$.body.party') IS NOT NULL
);

CREATE INDEX parties_unaudited ON parties (created_ms, id) WHERE NOT audited;
