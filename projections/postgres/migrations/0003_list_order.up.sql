-- Resource lists are ordered by name then mesh, byte-wise (Go's string order, which the
-- in-memory read model uses and Kuma's API shows), whatever the database's collation is. These
-- indexes hold that order, so a page of a list reads only the rows it returns (and the count
-- is an index-only scan): one for a type across every mesh, one for a type in one mesh.
CREATE INDEX resources_list ON resources (scope, type, name COLLATE "C", mesh COLLATE "C");
CREATE INDEX resources_list_mesh ON resources (scope, type, mesh, name COLLATE "C");
