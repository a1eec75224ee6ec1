// Package postgres projects the event log into PostgreSQL: the current state of every live
// resource (table resources) and the audit log of every event (table events), with the
// projection's checkpoint written in the same transaction as the rows it covers, so each
// event is applied exactly once even across crashes. Losing the database loses nothing: it is
// a projection, rebuilt from the log by a new Model over an empty (migrated) schema.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
)

// applyTimeout bounds one Apply: Model.Apply has no context (the Runner's contract).
const applyTimeout = 30 * time.Second

// Model is the PostgreSQL read model; it implements projections.Model. One Model (one
// projection name) writes one schema; Apply is called by one goroutine at a time.
type Model struct {
	pool *pgxpool.Pool
	name string
	seq  atomic.Uint64
	// stream is the replicated stream this model follows ("" for the CP's own log), and local
	// the scope the CP writes in, which decides the names and labels its copies are listed under.
	stream string
	local  events.Scope

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever seq moves
}

// New returns the model of the named projection, resuming from its checkpoint. It refuses a
// schema older than this build needs (run Migrate first).
func New(ctx context.Context, pool *pgxpool.Pool, name string) (*Model, error) {
	return newModel(ctx, pool, &Model{pool: pool, name: name, changed: make(chan struct{})})
}

// NewReplica returns the model of a replicated stream (a zone's log on the global; the
// global's log and the other zones' ingresses on a zone) on a CP writing in scope local. Its
// events go to replica_events and its resources to resources, under the names and labels the
// in-memory model lists them with (state.Localize); this CP's own resources echoed back by
// the stream are skipped, as the in-memory model skips them.
func NewReplica(ctx context.Context, pool *pgxpool.Pool, stream string, local events.Scope) (*Model, error) {
	return newModel(ctx, pool, &Model{pool: pool, name: ReplicaPrefix + stream, stream: stream, local: local,
		changed: make(chan struct{})})
}

// ReplicaPrefix starts the projection name (checkpoint row) of a replicated stream's model.
const ReplicaPrefix = "replica:"

// Name is the projection's name, which keys its checkpoint.
func (m *Model) Name() string { return m.name }

func newModel(ctx context.Context, pool *pgxpool.Pool, m *Model) (*Model, error) {
	if err := CheckSchema(ctx, pool, SchemaVersionRequired); err != nil {
		return nil, err
	}
	name := m.name
	var seq int64
	err := pool.QueryRow(ctx, `SELECT sequence FROM checkpoint WHERE projection = $1`, name).Scan(&seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("projection %s: read checkpoint: %w", name, err)
	}
	m.seq.Store(uint64(seq))
	return m, nil
}

// Sequence is the last sequence applied: the checkpoint, as loaded or advanced by Apply.
func (m *Model) Sequence() uint64 { return m.seq.Load() }

// Checkpoint guard and advance in one statement: it changes no row when the database already
// holds this sequence (or a later one), which makes Apply a no-op.
const advanceCheckpoint = `INSERT INTO checkpoint (projection, sequence) VALUES ($1, $2)
ON CONFLICT (projection) DO UPDATE SET sequence = EXCLUDED.sequence
WHERE checkpoint.sequence < EXCLUDED.sequence`

const readCheckpoint = `SELECT COALESCE((SELECT sequence FROM checkpoint WHERE projection = $1), 0)`

const insertEvent = `INSERT INTO events (sequence, id, time, type, subject, scope, resource_type,
    mesh, name, actor, origin, revision, correlation_id, reason, data, source, data_content_type)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

const insertReplicaEvent = `INSERT INTO replica_events (sequence, id, time, type, subject, scope,
    resource_type, mesh, name, actor, origin, revision, correlation_id, reason, data, source,
    data_content_type, stream)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`

const upsertResource = `INSERT INTO resources (scope, type, mesh, name, revision, sequence, actor,
    labels, spec, resource, creation_time, modification_time, stream)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (scope, type, mesh, name) DO UPDATE SET revision = EXCLUDED.revision,
    sequence = EXCLUDED.sequence, actor = EXCLUDED.actor, labels = EXCLUDED.labels,
    spec = EXCLUDED.spec, resource = EXCLUDED.resource, creation_time = EXCLUDED.creation_time,
    modification_time = EXCLUDED.modification_time, stream = EXCLUDED.stream`

const deleteResource = `DELETE FROM resources WHERE scope = $1 AND type = $2 AND mesh = $3 AND name = $4`

// Apply writes the event to the audit log, upserts or deletes the resource's row and advances
// the checkpoint, all in one transaction. A record the database already holds (sequence at or
// below its checkpoint) changes nothing.
func (m *Model) Apply(rec events.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	b, err := m.batch(rec)
	if err != nil {
		return err
	}
	tx, err := m.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	applied, err := sendBatch(ctx, tx, b, m.seq.Load())
	if err != nil {
		return err
	}
	if applied {
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit sequence %d: %w", rec.Sequence, err)
		}
	}
	if rec.Sequence > m.seq.Load() {
		m.setSequence(rec.Sequence)
	}
	return nil
}

// ApplyBatch applies many records in one transaction (projections.BatchModel), for catching
// up and rebuilding: the same rows as Apply record by record, the checkpoint advanced once to
// the last. Records the database already holds are skipped, so overlapping batches and
// concurrent instances still apply each event exactly once.
func (m *Model) ApplyBatch(recs []events.Record) error {
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	tx, err := m.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The checkpoint row is locked until commit, so a concurrent instance cannot apply between
	// this read and the write. Before the first checkpoint there is no row to lock; two
	// instances then collide on the events' primary key, and the loser retries.
	var cur int64
	err = tx.QueryRow(ctx, `SELECT sequence FROM checkpoint WHERE projection = $1 FOR UPDATE`, m.name).Scan(&cur)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	if last := m.seq.Load(); uint64(cur) < last {
		return fmt.Errorf("%w: database at %d, model at %d", ErrCheckpointBehind, cur, last)
	}
	b := &pgx.Batch{}
	var last uint64
	for _, rec := range recs {
		if rec.Sequence <= uint64(cur) {
			continue
		}
		if err := m.queueRows(b, rec); err != nil {
			return err
		}
		last = rec.Sequence
	}
	if last != 0 {
		b.Queue(advanceCheckpoint, m.name, int64(last))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("apply sequences %d-%d: %w", recs[0].Sequence, last, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit sequences %d-%d: %w", recs[0].Sequence, last, err)
		}
	}
	if top := max(last, uint64(cur)); top > m.seq.Load() {
		m.setSequence(top)
	}
	return nil
}

// Resync re-reads the checkpoint after a failed Apply (projections.Resyncer). When the schema
// is gone — dropped or wiped while the CP ran — it creates it again: the tables are a
// projection of the log, the new checkpoint is 0, and the runner rebuilds them from sequence 1.
// An old but present schema is never upgraded here; that stays 'jetmesh-cp migrate up'.
func (m *Model) Resync(ctx context.Context) error {
	v, err := SchemaVersion(ctx, m.pool)
	if err != nil {
		return fmt.Errorf("projection %s: resync: %w", m.name, err)
	}
	if v == 0 {
		if err := Migrate(ctx, m.pool); err != nil {
			return fmt.Errorf("projection %s: recreate wiped schema: %w", m.name, err)
		}
	}
	var seq int64
	err = m.pool.QueryRow(ctx, `SELECT sequence FROM checkpoint WHERE projection = $1`, m.name).Scan(&seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("projection %s: resync: read checkpoint: %w", m.name, err)
	}
	if uint64(seq) != m.seq.Load() {
		m.setSequence(uint64(seq))
	}
	return nil
}

// Verify checks that the database still holds what the model applied: its checkpoint is not
// behind the model's (ErrCheckpointBehind when the tables were emptied or restored under it,
// a query error when they are gone). Readers call it before trusting the tables.
func (m *Model) Verify(ctx context.Context) error {
	var cur int64
	if err := m.pool.QueryRow(ctx, readCheckpoint, m.name).Scan(&cur); err != nil {
		return fmt.Errorf("projection %s: verify: %w", m.name, err)
	}
	if last := m.seq.Load(); uint64(cur) < last {
		return fmt.Errorf("projection %s: %w: database at %d, model at %d", m.name, ErrCheckpointBehind, cur, last)
	}
	return nil
}

// VerifyCheckpoints is Verify for several projections in one query: each named checkpoint is
// at least at applied(name), the sequence its model applied.
func VerifyCheckpoints(ctx context.Context, pool *pgxpool.Pool, names []string, applied func(string) uint64) error {
	if len(names) == 0 {
		return nil
	}
	rows, err := pool.Query(ctx, `SELECT projection, sequence FROM checkpoint WHERE projection = ANY($1)`, names)
	if err != nil {
		return fmt.Errorf("verify checkpoints: %w", err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Name string
		Seq  int64
	}])
	if err != nil {
		return fmt.Errorf("verify checkpoints: %w", err)
	}
	at := make(map[string]uint64, len(have))
	for _, h := range have {
		at[h.Name] = uint64(h.Seq)
	}
	for _, n := range names {
		if want := applied(n); at[n] < want {
			return fmt.Errorf("projection %s: %w: database at %d, model at %d", n, ErrCheckpointBehind, at[n], want)
		}
	}
	return nil
}

// setSequence moves the in-memory checkpoint and wakes WaitFor.
func (m *Model) setSequence(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq.Store(seq)
	close(m.changed)
	m.changed = make(chan struct{})
}

// WaitFor blocks until the model has applied seq, or ctx ends.
func (m *Model) WaitFor(ctx context.Context, seq uint64) error {
	for {
		m.mu.Lock()
		ch := m.changed
		m.mu.Unlock()
		if m.seq.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("projection %s: wait for sequence %d (at %d): %w", m.name, seq, m.seq.Load(), ctx.Err())
		}
	}
}

// sendBatch runs the batch (checkpoint read, then advance, then the rows) in one round trip;
// applied is false when the checkpoint says the record was applied before, and the caller then
// rolls back. A checkpoint below last, the sequence this model applied last, means the tables
// were wiped or restored under the model: applying on top would leave a gap, so it fails with
// ErrCheckpointBehind and the runner resyncs (Resync) and replays from the real checkpoint.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, last uint64) (applied bool, err error) {
	br := tx.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && applied && cerr != nil {
			err = fmt.Errorf("apply: %w", cerr)
		}
	}()
	var cur int64
	if err := br.QueryRow().Scan(&cur); err != nil {
		return false, fmt.Errorf("read checkpoint: %w", err)
	}
	if uint64(cur) < last {
		return false, fmt.Errorf("%w: database at %d, model at %d", ErrCheckpointBehind, cur, last)
	}
	tag, err := br.Exec()
	if err != nil {
		return false, fmt.Errorf("advance checkpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	for range b.Len() - 2 {
		if _, err := br.Exec(); err != nil {
			return false, fmt.Errorf("apply: %w", err)
		}
	}
	return true, nil
}

// batch builds the statements of one record: checkpoint read and advance, then its rows.
func (m *Model) batch(rec events.Record) (*pgx.Batch, error) {
	b := &pgx.Batch{}
	b.Queue(readCheckpoint, m.name)
	b.Queue(advanceCheckpoint, m.name, int64(rec.Sequence))
	if err := m.queueRows(b, rec); err != nil {
		return nil, err
	}
	return b, nil
}

// queueRows queues the audit row and the resource upsert or delete of one record.
func (m *Model) queueRows(b *pgx.Batch, rec events.Record) error {
	ev, k := rec.Event, rec.Key
	if m.stream != "" && k.Scope == m.local {
		return nil // this CP's own resource echoed back: its own log is the source of truth
	}
	args := []any{int64(rec.Sequence), ev.ID, ev.Time, ev.Type, ev.Subject, k.Scope.Zone,
		k.Type, k.Mesh, k.Name, ev.Actor, ev.Origin, int64(ev.Revision), ev.CorrelationID, ev.Reason,
		jsonOrNull(ev.Data), ev.Source, ev.DataContentType}
	if m.stream == "" {
		b.Queue(insertEvent, args...)
	} else {
		b.Queue(insertReplicaEvent, append(args, m.stream)...)
	}
	name := k.Name
	if m.stream != "" {
		name = state.ListedName(m.local, k)
	}
	if ev.Deleted() {
		b.Queue(deleteResource, k.Scope.Zone, k.Type, k.Mesh, name)
		return nil
	}
	row, err := parseResource(ev)
	if err != nil {
		return fmt.Errorf("decode %s: %w", k, err)
	}
	if m.stream != "" {
		if row, err = localize(row, m.local, k, name); err != nil {
			return fmt.Errorf("localize %s: %w", k, err)
		}
	}
	b.Queue(upsertResource, k.Scope.Zone, k.Type, k.Mesh, name, int64(ev.Revision),
		int64(rec.Sequence), ev.Actor, row.labels, row.spec, row.resource, row.created, row.modified, m.stream)
	return nil
}

// localize gives a replicated copy the name and labels the API lists it under.
func localize(row resourceRow, local events.Scope, k events.Key, name string) (resourceRow, error) {
	var labels map[string]string
	if err := json.Unmarshal([]byte(row.labels), &labels); err != nil {
		return row, fmt.Errorf("labels: %w", err)
	}
	labels, changed := state.Localize(local, k, labels)
	if !changed {
		return row, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(row.resource), &fields); err != nil {
		return row, err
	}
	lb, err := json.Marshal(labels)
	if err != nil {
		return row, err
	}
	nb, err := json.Marshal(name)
	if err != nil {
		return row, err
	}
	fields["labels"], fields["name"] = lb, nb
	res, err := json.Marshal(fields)
	if err != nil {
		return row, err
	}
	row.labels, row.resource = string(lb), string(res)
	return row, nil
}

// Drop deletes every row this replica model wrote and its checkpoint: the stream is gone (a
// zone deleted from the global). A model of the CP's own log refuses.
func (m *Model) Drop(ctx context.Context) error {
	if m.stream == "" {
		return fmt.Errorf("projection %s: only a replicated stream's rows can be dropped", m.name)
	}
	tx, err := m.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("projection %s: drop: %w", m.name, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM resources WHERE stream = $1`, m.stream)
	b.Queue(`DELETE FROM replica_events WHERE stream = $1`, m.stream)
	b.Queue(`DELETE FROM checkpoint WHERE projection = $1`, m.name)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("projection %s: drop: %w", m.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("projection %s: drop: %w", m.name, err)
	}
	m.setSequence(0)
	return nil
}

func jsonOrNull(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// resourceRow is what the resources table keeps apart from the resource JSON.
type resourceRow struct {
	labels, spec      string
	resource          string // the resource as the REST API shows it
	created, modified time.Time
}

// metaFields are the REST API's non-spec fields of legacy resources, whose spec is inline.
var metaFields = map[string]bool{
	"type": true, "mesh": true, "name": true, "creationTime": true, "modificationTime": true,
	"labels": true, "kri": true, "status": true,
}

// parseResource reads labels, spec and times out of the resource JSON as the REST API shows
// it: plugin types carry "spec", legacy types (Mesh, Dataplane, ...) their spec fields inline.
// Missing times fall back to the event time.
func parseResource(ev events.Event) (resourceRow, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &fields); err != nil {
		return resourceRow{}, err
	}
	row := resourceRow{labels: "{}", resource: string(ev.Data), created: ev.Time, modified: ev.Time}
	if l, ok := fields["labels"]; ok && string(l) != "null" {
		row.labels = string(l)
	}
	if s, ok := fields["spec"]; ok {
		row.spec = string(s)
	} else {
		inline := map[string]json.RawMessage{}
		for k, v := range fields {
			if !metaFields[k] {
				inline[k] = v
			}
		}
		b, err := json.Marshal(inline)
		if err != nil {
			return resourceRow{}, err
		}
		row.spec = string(b)
	}
	for name, dst := range map[string]*time.Time{"creationTime": &row.created, "modificationTime": &row.modified} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var t time.Time
		if err := json.Unmarshal(raw, &t); err != nil {
			return resourceRow{}, fmt.Errorf("%s: %w", name, err)
		}
		*dst = t
	}
	return row, nil
}
