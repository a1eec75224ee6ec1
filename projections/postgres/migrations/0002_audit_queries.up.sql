-- The envelope attributes the audit queries return, so that an event read back from PostgreSQL
-- is the CloudEvent the log holds. Rows projected before this migration keep '' here.
ALTER TABLE events ADD COLUMN source text NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN data_content_type text NOT NULL DEFAULT '';

-- Audit queries answer oldest (or newest) first by sequence; an index per filter that is
-- ordered by sequence lets a page read only the rows it returns instead of sorting all matches.
CREATE INDEX events_mesh_sequence ON events (mesh, sequence);
CREATE INDEX events_actor_sequence ON events (actor, sequence);
CREATE INDEX events_type_sequence ON events (resource_type, sequence);
