-- Events are pruned by age from the oldest, in sequence order (the order of their times:
-- the engine stamps each batch with its clock), so the index of their times goes: every
-- event stored, three or four for each write that finds a conflict, had to add an entry
-- to it, about 3% of the pages a commit wrote to the log.
-- Migrations only grow: never edit this file once it has shipped; add a new one instead.

DROP INDEX events_time;
