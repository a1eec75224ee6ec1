-- Replicated streams: a zone's log on the global; the global's log and the other zones'
-- ingresses on a zone. Each has its own sequences, so their events live apart from this CP's
-- own (events, whose sequence is the own log's), keyed by stream and sequence.
CREATE TABLE replica_events (
    stream            text        NOT NULL,
    sequence          bigint      NOT NULL,
    id                text        NOT NULL,
    time              timestamptz NOT NULL,
    type              text        NOT NULL,
    subject           text        NOT NULL,
    scope             text        NOT NULL,
    resource_type     text        NOT NULL,
    mesh              text        NOT NULL,
    name              text        NOT NULL,
    actor             text        NOT NULL,
    origin            text        NOT NULL,
    revision          bigint      NOT NULL,
    correlation_id    text        NOT NULL,
    reason            text        NOT NULL,
    data              jsonb,
    source            text        NOT NULL,
    data_content_type text        NOT NULL,
    PRIMARY KEY (stream, sequence)
);
CREATE INDEX replica_events_resource ON replica_events (resource_type, mesh, name, scope, sequence);

-- The stream that wrote a resource row ('' for this CP's own log), so a deleted zone's copies
-- go with it. Rows of replicated streams carry the name and labels the API lists them under.
ALTER TABLE resources ADD COLUMN stream text NOT NULL DEFAULT '';
CREATE INDEX resources_stream ON resources (stream) WHERE stream <> '';

-- A list shows a type's resources from every stream, as the in-memory model does, so the
-- list indexes no longer lead with the scope.
DROP INDEX resources_list;
DROP INDEX resources_list_mesh;
CREATE INDEX resources_list ON resources (type, name COLLATE "C", mesh COLLATE "C");
CREATE INDEX resources_list_mesh ON resources (type, mesh, name COLLATE "C");
