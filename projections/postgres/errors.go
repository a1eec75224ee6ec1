package postgres

import (
	"errors"
	"fmt"
)

// ErrSchemaTooOld: the database needs 'jetmesh-cp migrate up' before this build can use it.
var ErrSchemaTooOld = errors.New("database schema too old")

// ErrCheckpointBehind: the database's checkpoint is older than what the model applied — the
// tables were wiped or restored under it. Resync re-reads it and the runner replays from there.
var ErrCheckpointBehind = errors.New("database checkpoint is behind the projection")

// SchemaVersionError is CheckSchema's refusal; it matches ErrSchemaTooOld.
type SchemaVersionError struct {
	Have, Want int
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database schema is at version %d, this jetmesh needs %d: run 'jetmesh-cp migrate up'",
		e.Have, e.Want)
}

// Is makes errors.Is(err, ErrSchemaTooOld) true.
func (e *SchemaVersionError) Is(target error) bool { return target == ErrSchemaTooOld }
