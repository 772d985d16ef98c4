-- Learned entities (issue 23): the roles an entity declares (JSON array of
-- names, e.g. ["from","to"]); annotations of examples may give one of them.
ALTER TABLE entities ADD COLUMN roles TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles) AND json_type(roles) = 'array');
