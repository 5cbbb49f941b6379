package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"
)

// waitLen waits until ix holds n jobs.
func waitLen(t testing.TB, ix *Index, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for ix.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the index holds %d jobs, want %d", ix.Len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ids(jobs []Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

// indexedQueue opens a queue on e, like another process, with its Index.
func indexedQueue(t *testing.T, e *Embedded) (*Queue, *Index) {
	t.Helper()
	q, _ := openQueue(t, e, Config{})
	ix, err := q.Index(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return q, ix
}

// TestListPagesStableWhileAdding: pages of 3 from a cursor give every job
// made before the first page exactly once, newest first, while new jobs
// keep coming; a fresh first page shows the new ones on top.
func TestListPagesStableWhileAdding(t *testing.T) {
	e := startServer(t)
	q, ix := indexedQueue(t, e)
	var want []string
	for i := range 10 {
		j, err := q.Enqueue(t.Context(), Job{ID: fmt.Sprintf("old-%02d", i), Origin: OriginUpload})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{j.ID}, want...) // newest first
	}
	waitLen(t, ix, 10)

	var got []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := ix.List(t.Context(), ListOptions{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(p.Jobs)...)
		// New jobs between pages: they are newer than any cursor.
		if _, err := q.Enqueue(t.Context(), Job{ID: fmt.Sprintf("new-%02d", page), Origin: OriginUpload}); err != nil {
			t.Fatal(err)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged:\n got %v\nwant %v", got, want)
	}
	waitLen(t, ix, 14)
	p, err := ix.List(t.Context(), ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(p.Jobs), []string{"new-03", "new-02"}) {
		t.Errorf("first page now %v", ids(p.Jobs))
	}

	// A second process's index reads the same jobs from the bucket.
	_, ix2 := indexedQueue(t, e)
	p2, err := ix2.List(t.Context(), ListOptions{Limit: MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Jobs) != 14 || p2.Jobs[0].ID != "new-03" || p2.Jobs[13].ID != "old-00" {
		t.Errorf("another node lists %v", ids(p2.Jobs))
	}
}

// TestListFilters: state, account, origin and since combine; updates move
// a job between states.
func TestListFilters(t *testing.T) {
	e := startServer(t)
	q, ix := indexedQueue(t, e)
	type spec struct {
		id      string
		account string
		origin  Origin
		state   State
	}
	specs := []spec{
		{"a1", "", OriginUpload, StatePosted},
		{"a2", "shop", OriginUpload, StateFailed},
		{"a3", "shop", OriginInbox, StatePosted},
		{"a4", "news", OriginInbox, StatePosted},
		{"a5", "shop", OriginInbox, StateQueued},
		{"a6", "default", OriginInbox, StateFailed},
	}
	var mid time.Time
	for i, s := range specs {
		if i == 3 {
			mid = time.Now().UTC()
		}
		if _, err := q.Enqueue(t.Context(), Job{ID: s.id, Origin: s.origin, Account: s.account}); err != nil {
			t.Fatal(err)
		}
		if s.state != StateQueued {
			if _, err := q.Update(t.Context(), s.id, func(j *Job) error { j.State = s.state; return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitLen(t, ix, len(specs))
	// The updates arrive after the records: wait for the last one.
	deadline := time.Now().Add(patience)
	for {
		p, _ := ix.List(t.Context(), ListOptions{States: []State{StateFailed}, Account: "default"})
		if len(p.Jobs) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		o    ListOptions
		want []string
	}{
		{"all", ListOptions{}, []string{"a6", "a5", "a4", "a3", "a2", "a1"}},
		{"state", ListOptions{States: []State{StatePosted}}, []string{"a4", "a3", "a1"}},
		{"states", ListOptions{States: []State{StateQueued, StateFailed}}, []string{"a6", "a5", "a2"}},
		{"account", ListOptions{Account: "shop"}, []string{"a5", "a3", "a2"}},
		{"default account", ListOptions{Account: "default"}, []string{"a6", "a1"}},
		{"state and account", ListOptions{States: []State{StatePosted}, Account: "shop"}, []string{"a3"}},
		{"origin, state and account", ListOptions{Origin: OriginInbox, States: []State{StatePosted}, Account: "news"}, []string{"a4"}},
		{"since", ListOptions{Since: mid}, []string{"a6", "a5", "a4"}},
		{"since and origin and state", ListOptions{Since: mid, Origin: OriginInbox, States: []State{StateFailed}}, []string{"a6"}},
		{"nothing", ListOptions{Origin: OriginUpload, Account: "news"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ix.List(t.Context(), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(p.Jobs), tc.want) || p.Next != "" {
				t.Errorf("got %v next %q, want %v", ids(p.Jobs), p.Next, tc.want)
			}
		})
	}
	// Filters and pages together.
	p, err := ix.List(t.Context(), ListOptions{Account: "shop", Limit: 2})
	if err != nil || !slices.Equal(ids(p.Jobs), []string{"a5", "a3"}) || p.Next == "" {
		t.Fatalf("page 1: %v %q %v", ids(p.Jobs), p.Next, err)
	}
	p, err = ix.List(t.Context(), ListOptions{Account: "shop", Limit: 2, Cursor: p.Next})
	if err != nil || !slices.Equal(ids(p.Jobs), []string{"a2"}) || p.Next != "" {
		t.Fatalf("page 2: %v %q %v", ids(p.Jobs), p.Next, err)
	}
}

func TestListRefuses(t *testing.T) {
	e := startServer(t)
	q, ix := indexedQueue(t, e)
	for _, o := range []ListOptions{{Limit: -1}, {Limit: MaxListLimit + 1}, {Cursor: "!!"}, {Cursor: "eHl6"}} {
		if _, err := ix.List(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ix2, err := q.Index(ctx)
	if err == nil {
		if _, err := ix2.List(ctx, ListOptions{}); err == nil {
			t.Error("a canceled list answered")
		}
	}
}

// BenchmarkList lists a page of 50 out of 20 000 jobs (of two accounts,
// three states and two origins), unfiltered and filtered, and reports the
// 99th percentile of one call.
func BenchmarkList(b *testing.B) {
	e, err := StartEmbedded(b.TempDir(), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown()
	nc, err := e.Connect()
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	q, err := Open(ctx, nc, Config{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 20000
	start := time.Now().UTC().Add(-n * time.Second)
	states := []State{StatePosted, StateFailed, StateQueued}
	accs := []string{"shop", "news"}
	origins := []Origin{OriginUpload, OriginInbox}
	for i := range n {
		t := start.Add(time.Duration(i) * time.Second)
		j := Job{ID: fmt.Sprintf("job-%05d", i), State: states[i%3], Account: accs[i%2], Origin: origins[i%5%2],
			Request: Request{Caption: "a caption of some length, like the ones people write"}, Name: "photo.jpg", Size: 123456,
			Created: t, Updated: t}
		data, _ := json.Marshal(j)
		if _, err := q.jobs.Put(ctx, j.ID, data); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	ix, err := q.Index(ctx)
	if err != nil {
		b.Fatal(err)
	}
	waitLen(b, ix, n)
	b.Logf("the index read %d records in %s", n, time.Since(t0).Round(time.Millisecond))
	for _, bc := range []struct {
		name string
		o    ListOptions
	}{
		{"first page", ListOptions{}},
		{"page 100", ListOptions{}},
		{"state+account", ListOptions{States: []State{StateFailed}, Account: "news"}},
		{"origin+since", ListOptions{Origin: OriginInbox, Since: start.Add(n / 2 * time.Second)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := bc.o
			if bc.name == "page 100" {
				for range 99 {
					p, err := ix.List(ctx, o)
					if err != nil {
						b.Fatal(err)
					}
					o.Cursor = p.Next
				}
			}
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				p, err := ix.List(ctx, o)
				took = append(took, time.Since(t0))
				if err != nil || len(p.Jobs) != DefaultListLimit {
					b.Fatalf("%d jobs, %v", len(p.Jobs), err)
				}
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// FuzzParseCursor: any cursor a client sends is refused or read back as
// a position, never a panic; the cursors List makes read back as theirs.
func FuzzParseCursor(f *testing.F) {
	f.Add(cursorOf(Job{ID: "abc", Created: time.Unix(1700000000, 5)}))
	f.Add("")
	f.Add("!!")
	f.Add("LTEuYQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			return
		}
		again := cursorOf(Job{ID: c.job.ID, Created: time.Unix(0, c.created)})
		if c2, err := parseCursor(again); err != nil || c2.created != c.created || c2.job.ID != c.job.ID {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, c, again, c2, err)
		}
	})
}

// TestIndexCount: the count of a state follows each job's moves, a job
// made again under its id, its removal and its expiry.
func TestIndexCount(t *testing.T) {
	ix := newIndex()
	now := time.Now()
	check := func(when string, want map[State]int) {
		t.Helper()
		for s, n := range want {
			if got := ix.Count(s); got != n {
				t.Errorf("%s: %d %s, want %d", when, got, s, n)
			}
		}
	}
	a := Job{ID: "a", State: StateScheduled, Created: now, Updated: now}
	b := Job{ID: "b", State: StateScheduled, Created: now.Add(time.Second), Updated: now}
	ix.put(a)
	ix.put(b)
	check("two scheduled", map[State]int{StateScheduled: 2, StateQueued: 0})
	a.State = StatePosting
	ix.put(a)
	ix.put(a)
	check("a posting", map[State]int{StateScheduled: 1, StatePosting: 1})
	b.Created, b.State = now.Add(time.Minute), StateQueued
	ix.put(b)
	check("b made again, queued", map[State]int{StateScheduled: 0, StateQueued: 1, StatePosting: 1})
	ix.remove("b")
	ix.remove("gone")
	check("b removed", map[State]int{StateQueued: 0, StatePosting: 1})
	old := Job{ID: "c", State: StateScheduled, Created: now.Add(-2 * jobsMaxAge), Updated: now.Add(-jobsMaxAge - time.Hour)}
	ix.put(old)
	check("c scheduled", map[State]int{StateScheduled: 1})
	ix.mu.Lock()
	ix.pruneLocked(now)
	ix.mu.Unlock()
	check("c expired", map[State]int{StateScheduled: 0, StatePosting: 1})
}
