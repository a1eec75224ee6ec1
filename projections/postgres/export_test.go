package postgres

// BuildQuery exposes the audit query builder to the EXPLAIN tests.
var BuildQuery = buildQuery
