-- The current-state read model: the newest revision of every live resource.
CREATE TABLE resources (
    scope             text        NOT NULL, -- "" for the global CP, else the zone name
    type              text        NOT NULL,
    mesh              text        NOT NULL, -- "" for global-scoped types
    name              text        NOT NULL,
    revision          bigint      NOT NULL,
    sequence          bigint      NOT NULL, -- stream sequence of the event that wrote this row
    actor             text        NOT NULL,
    labels            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    spec              jsonb,
    resource          jsonb       NOT NULL, -- as the REST API shows it
    creation_time     timestamptz,
    modification_time timestamptz,
    PRIMARY KEY (scope, type, mesh, name)
);
CREATE INDEX resources_type_mesh_name ON resources (type, mesh, name);
CREATE INDEX resources_labels ON resources USING gin (labels);

-- The audit log: every event, as the JetStream log holds it.
CREATE TABLE events (
    sequence       bigint      PRIMARY KEY,
    id             text        NOT NULL,
    time           timestamptz NOT NULL,
    type           text        NOT NULL,
    subject        text        NOT NULL,
    scope          text        NOT NULL,
    resource_type  text        NOT NULL,
    mesh           text        NOT NULL,
    name           text        NOT NULL,
    actor          text        NOT NULL,
    origin         text        NOT NULL,
    revision       bigint      NOT NULL,
    correlation_id text        NOT NULL,
    reason         text        NOT NULL,
    data           jsonb
);
CREATE INDEX events_resource ON events (resource_type, mesh, name, sequence);
CREATE INDEX events_actor_time ON events (actor, time);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_mesh_time ON events (mesh, time);

-- The last sequence each projection applied, written in the transaction of the rows it covers.
CREATE TABLE checkpoint (
    projection text   PRIMARY KEY,
    sequence   bigint NOT NULL
);
