// Package storetest is the contract suite every events.Store implementation runs:
//
//	func TestContract(t *testing.T) { storetest.Run(t, newEmptyStore) }
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/events"
)

// Source is the CloudEvents source the stores given to Run must write.
const Source = "jetmesh://storetest"

// Scopes are the scopes whose keys the stores given to Run must accept.
var Scopes = []events.Scope{events.GlobalScope, events.ZoneScope("zone-1")}

// Timeout bounds every store call and every wait of the suite.
const Timeout = 10 * time.Second

// Run runs the contract suite. newStore returns a new, empty store for each subtest; it owns
// the store's cleanup (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) events.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s events.Store)
	}{
		{"CreateWithExpectedZero", testCreate},
		{"SecondCreateConflicts", testSecondCreate},
		{"UpdateWithRightSequence", testUpdate},
		{"UpdateWithStaleSequenceConflicts", testStaleUpdate},
		{"DeleteWritesTombstone", testDelete},
		{"RecreateAfterDelete", testRecreate},
		{"IdempotentAppend", testIdempotent},
		{"UnknownKey", testUnknownKey},
		{"InvalidChangesRejected", testInvalid},
		{"Read", testRead},
		{"ReadStopsOnCallbackError", testReadCallbackError},
		{"ReadEndsWhereTheLogEndedAtStart", testReadBounded},
		{"WatchExistingThenNew", testWatch},
		{"WatchStopsOnCallbackError", testWatchCallbackError},
		{"AwkwardNamesRoundTrip", testNames},
		{"GlobalScopedKey", testGlobalKey},
		{"ConcurrentWritersOneWinner", testConcurrent},
		{"EnvelopeFields", testEnvelope},
		{"LastSequence", testLastSequence},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// ctx returns a context bounded by Timeout.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return c
}

// dpKey is a zone-scoped, mesh-scoped key.
func dpKey(name string) events.Key {
	return events.Key{Scope: Scopes[1], Type: "Dataplane", Mesh: "default", Name: name}
}

// data is a small resource body that differs by revision.
func data(k events.Key, rev uint64) json.RawMessage {
	b, err := json.Marshal(map[string]any{"type": k.Type, "mesh": k.Mesh, "name": k.Name, "rev": rev})
	if err != nil {
		panic(err)
	}
	return b
}

func upsert(k events.Key, expected, rev uint64) events.Change {
	return events.Change{Key: k, Op: events.OpUpsert, ExpectedSequence: expected, Revision: rev, Data: data(k, rev)}
}

func remove(k events.Key, expected, rev uint64) events.Change {
	return events.Change{Key: k, Op: events.OpDelete, ExpectedSequence: expected, Revision: rev}
}

func mustAppend(t *testing.T, s events.Store, c events.Change) events.Record {
	t.Helper()
	rec, err := s.Append(ctx(t), c)
	if err != nil {
		t.Fatalf("Append(%s, expected %d): %v", c.Key, c.ExpectedSequence, err)
	}
	return rec
}

func mustLast(t *testing.T, s events.Store, k events.Key) events.Record {
	t.Helper()
	rec, err := s.Last(ctx(t), k)
	if err != nil {
		t.Fatalf("Last(%s): %v", k, err)
	}
	return rec
}

func mustHistory(t *testing.T, s events.Store, k events.Key) []events.Record {
	t.Helper()
	recs, err := s.History(ctx(t), k)
	if err != nil {
		t.Fatalf("History(%s): %v", k, err)
	}
	return recs
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func wantConflict(t *testing.T, s events.Store, c events.Change) {
	t.Helper()
	rec, err := s.Append(ctx(t), c)
	if !errors.Is(err, events.ErrConflict) {
		t.Fatalf("Append(%s, expected %d) = %+v, %v; want ErrConflict", c.Key, c.ExpectedSequence, rec, err)
	}
}

// seqs lists the sequences of records.
func seqs(recs []events.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Sequence
	}
	return out
}

func testCreate(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	rec := mustAppend(t, s, upsert(k, 0, 1))
	if rec.Sequence == 0 {
		t.Fatal("Append returned sequence 0")
	}
	if rec.Key != k || rec.Event.Revision != 1 || rec.Event.Deleted() {
		t.Fatalf("Append returned %+v", rec)
	}
	diff(t, "Last after create", rec, mustLast(t, s, k))
	diff(t, "History after create", []events.Record{rec}, mustHistory(t, s, k))
}

func testSecondCreate(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	first := mustAppend(t, s, upsert(k, 0, 1))
	wantConflict(t, s, upsert(k, 0, 1))
	diff(t, "History after the conflicting create", []events.Record{first}, mustHistory(t, s, k))
}

func testUpdate(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	r1 := mustAppend(t, s, upsert(k, 0, 1))
	mustAppend(t, s, upsert(dpKey("other"), 0, 1)) // moves the stream sequence, not k's
	r2 := mustAppend(t, s, upsert(k, r1.Sequence, 2))
	if r2.Sequence <= r1.Sequence {
		t.Fatalf("update sequence %d, not after %d", r2.Sequence, r1.Sequence)
	}
	diff(t, "Last after update", r2, mustLast(t, s, k))
	diff(t, "History after update", []events.Record{r1, r2}, mustHistory(t, s, k))
	r3 := mustAppend(t, s, upsert(k, r2.Sequence, 3))
	diff(t, "Last after second update", r3, mustLast(t, s, k))
}

func testStaleUpdate(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	r1 := mustAppend(t, s, upsert(k, 0, 1))
	r2 := mustAppend(t, s, upsert(k, r1.Sequence, 2))
	wantConflict(t, s, upsert(k, r1.Sequence, 2)) // stale
	wantConflict(t, s, upsert(k, r2.Sequence+100, 3))
	wantConflict(t, s, remove(k, r1.Sequence, 3))
	diff(t, "History after stale writes", []events.Record{r1, r2}, mustHistory(t, s, k))
}

func testDelete(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	r1 := mustAppend(t, s, upsert(k, 0, 1))
	r2 := mustAppend(t, s, upsert(k, r1.Sequence, 2))
	del := mustAppend(t, s, remove(k, r2.Sequence, 3))
	if !del.Event.Deleted() || len(del.Event.Data) != 0 || del.Event.Revision != 3 {
		t.Fatalf("delete returned %+v, want a tombstone with revision 3 and no data", del)
	}
	last := mustLast(t, s, k)
	if !last.Event.Deleted() {
		t.Fatalf("Last after delete is not a tombstone: %+v", last)
	}
	diff(t, "Last after delete", del, last)
	diff(t, "History after delete", []events.Record{r1, r2, del}, mustHistory(t, s, k))
	wantConflict(t, s, upsert(k, 0, 4)) // the subject is not empty: a tombstone is an event
}

func testRecreate(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	r1 := mustAppend(t, s, upsert(k, 0, 1))
	del := mustAppend(t, s, remove(k, r1.Sequence, 2))
	again := mustAppend(t, s, upsert(k, del.Sequence, del.Event.Revision+1))
	if again.Event.Revision != 3 || again.Event.Deleted() {
		t.Fatalf("re-create returned %+v, want live revision 3", again)
	}
	diff(t, "Last after re-create", again, mustLast(t, s, k))
	diff(t, "History after re-create", []events.Record{r1, del, again}, mustHistory(t, s, k))
}

func testIdempotent(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	c := upsert(k, 0, 1)
	c.ID = "create-backend-1"
	first := mustAppend(t, s, c)
	if first.Event.ID != c.ID {
		t.Fatalf("event id %q, want %q", first.Event.ID, c.ID)
	}
	before, err := s.LastSequence(ctx(t))
	if err != nil {
		t.Fatal(err)
	}

	// A retry of the very same change (say, after a lost ack) returns the original record,
	// also when the writer re-read the resource and retries with its own event's sequence.
	diff(t, "retried append", first, mustAppend(t, s, c))
	reread := c
	reread.ExpectedSequence = first.Sequence
	diff(t, "retry with the original's sequence", first, mustAppend(t, s, reread))
	// Even when the resource moved on since.
	u := upsert(k, first.Sequence, 2)
	u.ID = "update-backend-1"
	second := mustAppend(t, s, u)
	diff(t, "retry after a later update", first, mustAppend(t, s, c))
	diff(t, "retried update", second, mustAppend(t, s, u))

	after, err := s.LastSequence(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Errorf("LastSequence went from %d to %d, want exactly one new event", before, after)
	}
	diff(t, "History after retries", []events.Record{first, second}, mustHistory(t, s, k))

	// A different change with a fresh ID still gets the concurrency check.
	c.ID = "another-create"
	wantConflict(t, s, c)
}

func testUnknownKey(t *testing.T, s events.Store) {
	k := dpKey("never-written")
	mustAppend(t, s, upsert(dpKey("other"), 0, 1))
	if rec, err := s.Last(ctx(t), k); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("Last(unknown) = %+v, %v; want ErrNotFound", rec, err)
	}
	if recs := mustHistory(t, s, k); len(recs) != 0 {
		t.Fatalf("History(unknown) = %+v, want none", recs)
	}
}

func testInvalid(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	noData := upsert(k, 0, 1)
	noData.Data = nil
	badJSON := upsert(k, 0, 1)
	badJSON.Data = json.RawMessage(`{"unterminated":`)
	noName := upsert(k, 0, 1)
	noName.Key.Name = ""
	noType := upsert(k, 0, 1)
	noType.Key.Type = ""
	noOp := upsert(k, 0, 1)
	noOp.Op = 0
	for name, c := range map[string]events.Change{
		"upsert without data": noData,
		"invalid JSON data":   badJSON,
		"revision 0":          upsert(k, 0, 0),
		"empty name":          noName,
		"empty type":          noType,
		"no op":               noOp,
	} {
		if rec, err := s.Append(ctx(t), c); err == nil {
			t.Errorf("%s: Append = %+v, want an error", name, rec)
		} else if errors.Is(err, events.ErrConflict) || errors.Is(err, events.ErrUnavailable) {
			t.Errorf("%s: Append error %v; want a validation error", name, err)
		}
	}
	if seq, err := s.LastSequence(ctx(t)); err != nil || seq != 0 {
		t.Fatalf("LastSequence after rejected changes = %d, %v; want 0", seq, err)
	}
}

// appendMany writes n events spread over three keys and returns them in log order.
func appendMany(t *testing.T, s events.Store, n int) []events.Record {
	t.Helper()
	last := map[events.Key]events.Record{}
	var out []events.Record
	for i := range n {
		k := dpKey(fmt.Sprintf("dp-%d", i%3))
		prev := last[k]
		rec := mustAppend(t, s, upsert(k, prev.Sequence, prev.Event.Revision+1))
		last[k] = rec
		out = append(out, rec)
	}
	return out
}

// readAll collects what Read delivers from `from`.
func readAll(t *testing.T, s events.Store, from uint64) ([]events.Record, uint64) {
	t.Helper()
	var got []events.Record
	last, err := s.Read(ctx(t), from, func(r events.Record) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%d): %v", from, err)
	}
	return got, last
}

func testRead(t *testing.T, s events.Store) {
	if got, last := readAll(t, s, 1); len(got) != 0 || last != 0 {
		t.Fatalf("Read of an empty log = %v, %d; want nothing, 0", seqs(got), last)
	}
	all := appendMany(t, s, 10)
	end := all[len(all)-1].Sequence

	got, last := readAll(t, s, 1)
	diff(t, "Read from 1", all, got)
	if last != end {
		t.Errorf("Read from 1 returned last %d, want %d", last, end)
	}
	got, _ = readAll(t, s, 0)
	diff(t, "Read from 0", all, got)

	mid := all[4].Sequence
	got, last = readAll(t, s, mid)
	diff(t, "Read from the middle", all[4:], got)
	if last != end {
		t.Errorf("Read from %d returned last %d, want %d", mid, last, end)
	}

	got, last = readAll(t, s, end+1)
	if len(got) != 0 || last != end {
		t.Errorf("Read past the end = %v, %d; want nothing, %d", seqs(got), last, end)
	}
}

func testReadBounded(t *testing.T, s events.Store) {
	all := appendMany(t, s, 3)
	k := dpKey("written-during-read")
	var got []events.Record
	var written []events.Record
	last, err := s.Read(ctx(t), 1, func(r events.Record) error {
		got = append(got, r)
		// Each callback appends one event that Read must not deliver.
		prev := events.Record{}
		if len(written) > 0 {
			prev = written[len(written)-1]
		}
		rec, err := s.Append(ctx(t), upsert(k, prev.Sequence, prev.Event.Revision+1))
		written = append(written, rec)
		return err
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	diff(t, "events read while the log grew", all, got)
	if last != all[2].Sequence {
		t.Errorf("Read returned last %d, want %d", last, all[2].Sequence)
	}
	if len(written) != 3 {
		t.Errorf("%d events written during Read, want 3", len(written))
	}
}

func testReadCallbackError(t *testing.T, s events.Store) {
	all := appendMany(t, s, 5)
	stop := errors.New("stop here")
	var got []uint64
	last, err := s.Read(ctx(t), 1, func(r events.Record) error {
		if len(got) == 2 {
			return stop
		}
		got = append(got, r.Sequence)
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Read error = %v, want the callback's", err)
	}
	diff(t, "sequences before the error", seqs(all[:2]), got)
	if last != all[1].Sequence {
		t.Errorf("Read returned last %d, want %d (the last one handled)", last, all[1].Sequence)
	}
}

// watcher runs Watch in a goroutine and collects what it delivers.
type watcher struct {
	recs   chan events.Record
	done   chan error
	cancel context.CancelFunc
}

func startWatch(t *testing.T, s events.Store, from uint64) *watcher {
	t.Helper()
	c, cancel := context.WithCancel(ctx(t))
	w := &watcher{recs: make(chan events.Record, 1000), done: make(chan error, 1), cancel: cancel}
	go func() {
		w.done <- s.Watch(c, from, func(r events.Record) error {
			w.recs <- r
			return nil
		})
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// next waits for n records.
func (w *watcher) next(t *testing.T, n int) []events.Record {
	t.Helper()
	deadline := time.After(Timeout)
	var out []events.Record
	for len(out) < n {
		select {
		case r := <-w.recs:
			out = append(out, r)
		case err := <-w.done:
			t.Fatalf("Watch returned early: %v", err)
		case <-deadline:
			t.Fatalf("Watch delivered %d of %d events within %s", len(out), n, Timeout)
		}
	}
	return out
}

// stop cancels the watch and checks how it ended; it is idempotent.
func (w *watcher) stop(t *testing.T) {
	t.Helper()
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Watch after cancel returned %v, want nil or context.Canceled", err)
		}
	case <-time.After(Timeout):
		t.Errorf("Watch did not return within %s of cancel", Timeout)
	}
}

func testWatch(t *testing.T, s events.Store) {
	existing := appendMany(t, s, 4)
	w := startWatch(t, s, existing[1].Sequence)
	diff(t, "existing events", existing[1:], w.next(t, 3))

	k := dpKey("new")
	var added []events.Record
	for rev := uint64(1); rev <= 3; rev++ {
		prev := uint64(0)
		if len(added) > 0 {
			prev = added[len(added)-1].Sequence
		}
		added = append(added, mustAppend(t, s, upsert(k, prev, rev)))
	}
	diff(t, "new events", added, w.next(t, 3))
	w.stop(t)
	select {
	case r := <-w.recs:
		t.Fatalf("unexpected event after the expected ones: %+v", r)
	default:
	}

	// A watch from 1 sees everything, from the first event on.
	w2 := startWatch(t, s, 1)
	diff(t, "watch from 1", append(existing, added...), w2.next(t, len(existing)+len(added)))
}

func testWatchCallbackError(t *testing.T, s events.Store) {
	appendMany(t, s, 3)
	stop := errors.New("stop here")
	var n int
	err := s.Watch(ctx(t), 1, func(events.Record) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("Watch = %v after %d events; want the callback's error after 2", err, n)
	}
}

func testNames(t *testing.T, s events.Store) {
	names := []string{
		"web.default.svc", "a*b", "a>b", ">", "*", "with space", "tab\tand\nnewline", "ünïcødé-名前",
		"tilde~7e", "~", "~41", "dots..", ".", "x", "UPPER_lower-09", "emoji-🚀", "slash/and\\back",
	}
	for i, name := range names {
		for _, k := range []events.Key{dpKey(name), {Scope: Scopes[1], Type: "Dataplane", Mesh: name, Name: name}} {
			rec := mustAppend(t, s, upsert(k, 0, 1))
			if rec.Key != k {
				t.Errorf("name %q (%d): Append returned key %+v", name, i, rec.Key)
			}
			diff(t, fmt.Sprintf("Last(%q)", name), rec, mustLast(t, s, k))
			diff(t, fmt.Sprintf("History(%q)", name), []events.Record{rec}, mustHistory(t, s, k))
		}
	}
	// Names that differ only in characters that need escaping stay different resources.
	got, _ := readAll(t, s, 1)
	keys := map[events.Key]bool{}
	for _, r := range got {
		if keys[r.Key] {
			t.Errorf("key %+v read twice", r.Key)
		}
		keys[r.Key] = true
	}
	if len(keys) != 2*len(names) {
		t.Errorf("Read found %d distinct keys, want %d", len(keys), 2*len(names))
	}
}

func testGlobalKey(t *testing.T, s events.Store) {
	mesh := events.Key{Scope: events.GlobalScope, Type: "Mesh", Name: "default"}
	zoned := events.Key{Scope: Scopes[1], Type: "Mesh", Name: "default"} // same names, other scope
	r1 := mustAppend(t, s, upsert(mesh, 0, 1))
	r2 := mustAppend(t, s, upsert(zoned, 0, 1))
	if r1.Event.Origin != "global" || r2.Event.Origin != "zone:zone-1" {
		t.Errorf("origins %q, %q; want global, zone:zone-1", r1.Event.Origin, r2.Event.Origin)
	}
	diff(t, "Last(global mesh)", r1, mustLast(t, s, mesh))
	diff(t, "Last(zone mesh)", r2, mustLast(t, s, zoned))
	del := mustAppend(t, s, remove(mesh, r1.Sequence, 2))
	diff(t, "History(global mesh)", []events.Record{r1, del}, mustHistory(t, s, mesh))
	diff(t, "History(zone mesh)", []events.Record{r2}, mustHistory(t, s, zoned))
}

func testConcurrent(t *testing.T, s events.Store) {
	const writers, rounds = 8, 5
	k := dpKey("contended")
	cctx := ctx(t)
	var prev events.Record
	for round := range rounds {
		start := make(chan struct{})
		type result struct {
			rec events.Record
			err error
		}
		results := make(chan result, writers)
		for w := range writers {
			c := upsert(k, prev.Sequence, prev.Event.Revision+1)
			c.Actor = fmt.Sprintf("writer-%d", w)
			go func() {
				<-start
				rec, err := s.Append(cctx, c)
				results <- result{rec, err}
			}()
		}
		close(start)
		var winners []events.Record
		for range writers {
			r := <-results
			switch {
			case r.err == nil:
				winners = append(winners, r.rec)
			case !errors.Is(r.err, events.ErrConflict):
				t.Fatalf("round %d: Append error %v, want success or ErrConflict", round, r.err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1", round, len(winners))
		}
		prev = winners[0]
		diff(t, fmt.Sprintf("Last after round %d", round), prev, mustLast(t, s, k))
	}
	if h := mustHistory(t, s, k); len(h) != rounds {
		t.Fatalf("History has %d events, want %d", len(h), rounds)
	}
}

func testEnvelope(t *testing.T, s events.Store) {
	k := dpKey("backend-1")
	when := time.Date(2025, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	c := events.Change{
		Key: k, Op: events.OpUpsert, Revision: 1,
		Data:          json.RawMessage(`{"type":"Dataplane","mesh":"default","name":"backend-1"}`),
		Actor:         "user:admin",
		CorrelationID: "req-42",
		Reason:        "revert to revision 7",
		ID:            "0b9e6f2c-1f4e-4c59-9a51-7c6f3d0d9a10",
		Time:          when,
	}
	want := events.Event{
		SpecVersion:     "1.0",
		ID:              c.ID,
		Source:          Source,
		Type:            events.TypeResourceUpserted,
		Subject:         k.Subject(),
		Time:            when.UTC().Truncate(time.Microsecond), // the contract's resolution
		DataContentType: "application/json",
		Actor:           "user:admin",
		Origin:          "zone:zone-1",
		Revision:        1,
		CorrelationID:   "req-42",
		Reason:          "revert to revision 7",
		Data:            c.Data,
	}
	rec := mustAppend(t, s, c)
	diff(t, "appended envelope", want, rec.Event)
	if rec.Event.Time.Location() != time.UTC {
		t.Errorf("time zone %v, want UTC", rec.Event.Time.Location())
	}
	diff(t, "stored envelope", want, mustLast(t, s, k).Event)
	got, _ := readAll(t, s, 1)
	if len(got) != 1 {
		t.Fatalf("Read found %d events, want 1", len(got))
	}
	diff(t, "read envelope", want, got[0].Event)

	// Tombstone: no data, no content type; defaults for id and time.
	before := time.Now()
	del := mustAppend(t, s, events.Change{Key: k, Op: events.OpDelete, ExpectedSequence: rec.Sequence, Revision: 2, Actor: "user:admin"})
	ev := del.Event
	if ev.Type != events.TypeResourceDeleted || len(ev.Data) != 0 || ev.Revision != 2 || ev.Actor != "user:admin" {
		t.Errorf("tombstone envelope %+v", ev)
	}
	if ev.ID == "" || ev.ID == c.ID {
		t.Errorf("tombstone id %q, want a new unique id", ev.ID)
	}
	if ev.Time.Before(before.Add(-time.Second)) || ev.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("tombstone time %v, want about now", ev.Time)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("tombstone does not validate: %v", err)
	}
	diff(t, "stored tombstone", del, mustLast(t, s, k))
}

func testLastSequence(t *testing.T, s events.Store) {
	if seq, err := s.LastSequence(ctx(t)); err != nil || seq != 0 {
		t.Fatalf("LastSequence of an empty log = %d, %v; want 0", seq, err)
	}
	all := appendMany(t, s, 3)
	seq, err := s.LastSequence(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := all[2].Sequence; seq != want {
		t.Fatalf("LastSequence = %d, want %d", seq, want)
	}
}
