package postgres

// BuildQuery exposes the audit query builder to the EXPLAIN tests.
var BuildQuery = buildQuery

// BuildList exposes the list query builder to the EXPLAIN tests.
var BuildList = buildList
