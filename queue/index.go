package queue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Limits of a job list page.
const (
	DefaultListLimit = 50  // jobs per page when ListOptions.Limit is 0
	MaxListLimit     = 500 // the most jobs one page holds
)

// ErrBadCursor: a list cursor that no List call gave.
var ErrBadCursor = errors.New("queue: not a cursor of this list")

// ListOptions choose and page the jobs List returns. Filters combine: a
// job is listed when it matches every one given.
type ListOptions struct {
	States  []State   // any of these; empty: every state
	Account string    // this account only ("default" also matches jobs naming none)
	Origin  Origin    // this origin only
	Since   time.Time // made at or after this time
	Limit   int       // jobs per page, 1 to MaxListLimit; 0: DefaultListLimit
	// Cursor continues after the last job of the page that gave it as
	// Next. Jobs made meanwhile do not shift the pages that follow.
	Cursor string
}

// Page is one page of a job list, newest first. Next is the cursor of the
// next page; empty on the last.
type Page struct {
	Jobs []Job  `json:"jobs"`
	Next string `json:"next,omitempty"`
}

// Index lists the jobs of the jobs bucket, newest first, from memory: it
// reads every record once when it starts, then follows the bucket's
// writes, so that a list request reads no record from the server. Every
// process keeps its own; a job shows up in it as soon as its write
// reaches this process (milliseconds).
type Index struct {
	ready  chan struct{} // closed when the records present at start are in
	mu     sync.RWMutex
	byID   map[string]*indexed
	order  []*indexed    // by (Created, ID) ascending: the newest last
	states map[State]int // how many jobs are in each state
	err    error         // why the index stopped, if it did
	added  int           // inserts since the last prune
}

type indexed struct {
	created int64 // Created, unix nanoseconds
	job     Job
}

func newIndex() *Index {
	return &Index{ready: make(chan struct{}), byID: map[string]*indexed{}, states: map[State]int{}}
}

// less orders a before b: older first, then by id.
func less(a, b *indexed) int {
	if a.created != b.created {
		if a.created < b.created {
			return -1
		}
		return 1
	}
	return strings.Compare(a.job.ID, b.job.ID)
}

// Index starts following the jobs bucket until ctx ends and returns the
// index at once; List waits until the records there were at start are read.
func (q *Queue) Index(ctx context.Context) (*Index, error) {
	w, err := q.jobs.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: watching jobs for the list: %w", err)
	}
	ix := newIndex()
	go func() {
		defer func() { _ = w.Stop() }()
		initial := true
		for {
			select {
			case <-ctx.Done():
				ix.stop(ctx.Err())
				return
			case e, ok := <-w.Updates():
				if !ok {
					ix.stop(errors.New("queue: the watch of the jobs bucket ended"))
					return
				}
				if e == nil {
					if initial {
						initial = false
						close(ix.ready)
					}
					continue
				}
				if e.Operation() != jetstream.KeyValuePut {
					ix.remove(e.Key())
					continue
				}
				var j Job
				if err := json.Unmarshal(e.Value(), &j); err != nil {
					q.log.Warn("queue: list: broken job record", "job", e.Key(), "err", err)
					continue
				}
				ix.put(j)
			}
		}
	}()
	return ix, nil
}

func (ix *Index) stop(err error) {
	ix.mu.Lock()
	ix.err = err
	ix.mu.Unlock()
	select {
	case <-ix.ready:
	default:
		close(ix.ready)
	}
}

// put adds or replaces a job.
func (ix *Index) put(j Job) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if e, ok := ix.byID[j.ID]; ok && e.created == j.Created.UnixNano() {
		ix.states[e.job.State]--
		ix.states[j.State]++
		e.job = j
		return
	}
	ix.removeLocked(j.ID)
	e := &indexed{created: j.Created.UnixNano(), job: j}
	i, _ := slices.BinarySearchFunc(ix.order, e, less)
	ix.order = slices.Insert(ix.order, i, e)
	ix.byID[j.ID] = e
	ix.states[j.State]++
	if ix.added++; ix.added >= 1000 {
		ix.added = 0
		ix.pruneLocked(time.Now())
	}
}

func (ix *Index) remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(id)
}

func (ix *Index) removeLocked(id string) {
	e, ok := ix.byID[id]
	if !ok {
		return
	}
	delete(ix.byID, id)
	ix.states[e.job.State]--
	if i, found := slices.BinarySearchFunc(ix.order, e, less); found {
		ix.order = slices.Delete(ix.order, i, i+1)
	}
}

// pruneLocked drops the jobs the bucket has let expire (it says nothing
// when a record ages out).
func (ix *Index) pruneLocked(now time.Time) {
	ix.order = slices.DeleteFunc(ix.order, func(e *indexed) bool {
		if expired(e.job, now) {
			delete(ix.byID, e.job.ID)
			ix.states[e.job.State]--
			return true
		}
		return false
	})
}

func expired(j Job, now time.Time) bool { return now.Sub(j.Updated) > jobsMaxAge }

// List returns a page of jobs, newest first. It waits (within ctx) until
// the index has read the records there were when it started. A Limit out
// of range or a Cursor no List gave is an error.
func (ix *Index) List(ctx context.Context, o ListOptions) (Page, error) {
	if o.Limit == 0 {
		o.Limit = DefaultListLimit
	}
	if o.Limit < 1 || o.Limit > MaxListLimit {
		return Page{}, fmt.Errorf("queue: list limit %d: use 1 to %d", o.Limit, MaxListLimit)
	}
	var after *indexed // list what comes before it (older)
	if o.Cursor != "" {
		c, err := parseCursor(o.Cursor)
		if err != nil {
			return Page{}, err
		}
		after = c
	}
	select {
	case <-ix.ready:
	case <-ctx.Done():
		return Page{}, fmt.Errorf("queue: list: waiting for the index: %w", ctx.Err())
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.err != nil && !errors.Is(ix.err, context.Canceled) {
		return Page{}, ix.err
	}
	end := len(ix.order)
	if after != nil {
		end, _ = slices.BinarySearchFunc(ix.order, after, less)
	}
	since := int64(0)
	if !o.Since.IsZero() {
		since = o.Since.UnixNano()
	}
	now := time.Now()
	p := Page{Jobs: []Job{}}
	for i := end - 1; i >= 0; i-- {
		e := ix.order[i]
		if e.created < since {
			break // all older from here
		}
		if !o.match(e.job) || expired(e.job, now) {
			continue
		}
		if len(p.Jobs) == o.Limit {
			p.Next = cursorOf(p.Jobs[len(p.Jobs)-1])
			break
		}
		p.Jobs = append(p.Jobs, e.job)
	}
	return p, nil
}

// match tells whether j passes o's filters (besides Since).
func (o ListOptions) match(j Job) bool {
	if len(o.States) > 0 && !slices.Contains(o.States, j.State) {
		return false
	}
	if o.Origin != "" && j.Origin != o.Origin {
		return false
	}
	if o.Account != "" && j.Account != o.Account && (o.Account != defaultAccount || j.Account != "") {
		return false
	}
	return true
}

// defaultAccount is accounts.Default: the account of a job naming none.
const defaultAccount = "default"

// cursorOf is the opaque position of j in the list.
func cursorOf(j Job) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(j.Created.UnixNano(), 10) + "." + j.ID))
}

func parseCursor(s string) (*indexed, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	ts, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !validID.MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	return &indexed{created: n, job: Job{ID: id}}, nil
}

// Count is the number of jobs in the index in state s; it does not wait
// for the records there were at start (see List).
func (ix *Index) Count(s State) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.states[s]
}

// Len is the number of jobs in the index.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.order)
}
