-- Imports past MAX_ACTIVE_IMPORTS wait their turn, queued, instead of failing at their start.
-- `waiting_since`: when a start found no free slot for the import (NULL: it never waited); the
-- line is the queued imports, oldest first, which the index reads in order. The refusal that
-- failed an import at once is gone.
ALTER TABLE imports ADD COLUMN waiting_since timestamptz;

CREATE INDEX imports_queued_line_idx ON imports (created_at, id) WHERE status = 'queued';

DROP FUNCTION import_refuse(uuid, text);
