package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
)

// States of a followed status, as job records and --json lines show them.
const (
	Pending      = "pending"       // sent; not in the outgoing list yet
	Sent         = "sent"          // the phone sent it
	Delivered    = "delivered"     // it reached a viewer's phone
	Read         = "read"          // a viewer opened it
	NotConfirmed = "not_confirmed" // not in the outgoing list within the window
)

// Lister lists the statuses the instance sent in the last minutes;
// *greenapi.Client is the implementation.
type Lister interface {
	GetOutgoingStatuses(ctx context.Context, minutes int) ([]greenapi.OutgoingStatus, error)
}

var _ Lister = (*greenapi.Client)(nil)

// Config configures a Tracker. Zero fields take their defaults.
type Config struct {
	// Window is how long after its send a status is looked for before it
	// is reported not_confirmed; default 10 min.
	Window time.Duration
	// First is the wait before the first look and after a new status is
	// followed; it doubles after every look up to Max. Defaults 2 s and
	// 30 s.
	First, Max time.Duration
	Logger     *slog.Logger     // default discards
	Now        func() time.Time // default time.Now
}

// DefaultWindow is Config.Window's default.
const DefaultWindow = 10 * time.Minute

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.First <= 0 {
		c.First = 2 * time.Second
	}
	if c.Max <= 0 {
		c.Max = 30 * time.Second
	}
	c.Max = max(c.Max, c.First)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Watch is a status to follow: by IDMessage, or, for a send whose answer
// was lost (IDMessage empty), by what it said.
type Watch struct {
	IDMessage string
	SentAt    time.Time // when the send began; the window counts from here
	// For a lost answer: the status is the only one of Method sent since
	// SentAt (a minute of clock skew allowed) whose caption (media) or
	// text (text status) is Text.
	Method string // sendMediaStatus, sendVoiceStatus or sendTextStatus; "" any media
	Text   string
	// Done is called once, from the Tracker's goroutine, with the outcome.
	Done func(Result)
}

// Result is what became of a followed status.
type Result struct {
	State     string // Sent, Delivered, Read, NotConfirmed; Pending when the Tracker stopped first
	IDMessage string // the status seen (for a lost answer: the one that matched)
	// SeenAfter is the time from the send to the look that saw it.
	SeenAfter time.Duration
	Note      string // what was seen, for the record
}

// Tracker follows statuses; see the package doc. It is safe for
// concurrent use.
type Tracker struct {
	list Lister
	cfg  Config

	mu      sync.Mutex
	watches []*Watch
	known   map[string]time.Time // idMessages followed by id (and when): never the match of a lost answer
	wake    chan struct{}
	idle    chan struct{} // closed while no watch is pending
	stopped bool          // Run has ended: new watches are reported Pending at once
}

// New returns a Tracker listing with l; Run makes it work.
func New(l Lister, cfg Config) *Tracker {
	idle := make(chan struct{})
	close(idle)
	return &Tracker{list: l, cfg: cfg.withDefaults(), known: map[string]time.Time{}, wake: make(chan struct{}, 1), idle: idle}
}

// Follow starts following w; it never blocks. w.Done is called once: from
// Run's goroutine, or at once (Pending) from Follow's own when Run has
// ended.
func (t *Tracker) Follow(w Watch) {
	if w.SentAt.IsZero() {
		w.SentAt = t.cfg.Now()
	}
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		w.Done(Result{State: Pending, IDMessage: w.IDMessage, Note: stoppedNote})
		return
	}
	if len(t.watches) == 0 {
		t.idle = make(chan struct{})
	}
	t.watches = append(t.watches, &w)
	if w.IDMessage != "" {
		t.known[w.IDMessage] = w.SentAt
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Know tells t that the status idMessage, sent at sentAt, is another
// job's: it is never taken for the status of a lost answer. (A Tracker
// knows the statuses it follows by id; a restarted process tells it those
// of the jobs posted before.)
func (t *Tracker) Know(idMessage string, sentAt time.Time) {
	if idMessage == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.known[idMessage]; !ok {
		t.known[idMessage] = sentAt
	}
}

// Window is how long after its send a status is looked for.
func (t *Tracker) Window() time.Duration { return t.cfg.Window }

// Idle returns a channel closed once no status is being followed (batch
// waits on it before it exits).
func (t *Tracker) Idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.idle
}

// Run looks at the outgoing list while statuses are followed, until ctx
// ends; the statuses still followed then, and any followed later, are
// reported Pending. Run once.
func (t *Tracker) Run(ctx context.Context) {
	wait := t.cfg.First
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			t.finishAll(Result{State: Pending, Note: stoppedNote})
			return
		case <-t.wake:
			// A new status: look soon again.
			wait = t.cfg.First
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(wait)
			continue
		case <-timer.C:
		}
		if t.pending() > 0 {
			t.look(ctx)
			wait = min(wait*2, t.cfg.Max)
		}
		timer.Reset(wait)
	}
}

func (t *Tracker) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.watches)
}

// look lists the outgoing statuses once and settles what it can.
func (t *Tracker) look(ctx context.Context) {
	now := t.cfg.Now()
	t.mu.Lock()
	oldest := now
	for _, w := range t.watches {
		if w.SentAt.Before(oldest) {
			oldest = w.SentAt
		}
	}
	t.mu.Unlock()
	minutes := int(now.Sub(oldest)/time.Minute) + 2
	list, err := t.list.GetOutgoingStatuses(ctx, minutes)
	if err != nil {
		t.cfg.Logger.Warn("delivery: listing outgoing statuses", "err", err)
		list = nil // the windows still end
	}
	byID := make(map[string]greenapi.OutgoingStatus, len(list))
	for _, s := range list {
		byID[s.IDMessage] = s
	}
	t.mu.Lock()
	var done []func()
	keep := t.watches[:0]
	for _, w := range t.watches {
		r, ok := t.settle(w, list, byID, now, err == nil)
		if !ok {
			keep = append(keep, w)
			continue
		}
		done = append(done, func() { w.Done(r) })
	}
	clear(t.watches[len(keep):])
	t.watches = keep
	for id, at := range t.known {
		if now.Sub(at) > 2*t.cfg.Window+24*time.Hour {
			delete(t.known, id) // out of any listing a lost answer is matched against
		}
	}
	if len(keep) == 0 {
		close(t.idle)
	}
	t.mu.Unlock()
	for _, f := range done {
		f()
	}
}

// settle decides w from one listing; ok is false while it stays pending.
// t.mu is held.
func (t *Tracker) settle(w *Watch, list []greenapi.OutgoingStatus, byID map[string]greenapi.OutgoingStatus, now time.Time, listed bool) (Result, bool) {
	after := now.Sub(w.SentAt)
	over := after >= t.cfg.Window
	if w.IDMessage != "" {
		if s, ok := byID[w.IDMessage]; ok {
			if st := shown(s.StatusMessage); st != "" {
				return Result{State: st, IDMessage: w.IDMessage, SeenAfter: after,
					Note: fmt.Sprintf("getOutgoingStatuses shows it %s", s.StatusMessage)}, true
			}
		}
		if over {
			return Result{State: NotConfirmed, IDMessage: w.IDMessage,
				Note: fmt.Sprintf("not in getOutgoingStatuses as sent within %s of the send", t.cfg.Window)}, true
		}
		return Result{}, false
	}
	// A lost answer: look for the one status it can be.
	var match []greenapi.OutgoingStatus
	for _, s := range list {
		if _, ok := t.known[s.IDMessage]; ok || !sameKind(w.Method, s) || s.Timestamp < w.SentAt.Add(-time.Minute).Unix() {
			continue
		}
		if textOf(s) == w.Text {
			match = append(match, s)
		}
	}
	switch {
	case len(match) == 1 && shown(match[0].StatusMessage) != "":
		s := match[0]
		t.known[s.IDMessage] = now
		return Result{State: shown(s.StatusMessage), IDMessage: s.IDMessage, SeenAfter: after,
			Note: fmt.Sprintf("resolved from getOutgoingStatuses: the only %s since the send is %s, sent at %s",
				describe(w), s.IDMessage, time.Unix(s.Timestamp, 0).UTC().Format(time.RFC3339))}, true
	case len(match) > 1:
		ids := make([]string, len(match))
		for i, s := range match {
			ids[i] = s.IDMessage
		}
		return Result{State: NotConfirmed, SeenAfter: after,
			Note: fmt.Sprintf("%d statuses in getOutgoingStatuses match it (%s): cannot tell which, if any, is this one", len(match), strings.Join(ids, ", "))}, true
	case over:
		note := fmt.Sprintf("no %s in getOutgoingStatuses within %s of the send", describe(w), t.cfg.Window)
		if !listed {
			note += " (the last listing failed)"
		}
		return Result{State: NotConfirmed, SeenAfter: after, Note: note}, true
	}
	return Result{}, false
}

const stoppedNote = "stopped before the status showed in getOutgoingStatuses"

// finishAll reports every watch with r and stops taking new ones (shutdown).
func (t *Tracker) finishAll(r Result) {
	t.mu.Lock()
	t.stopped = true
	ws := t.watches
	t.watches = nil
	if len(ws) > 0 {
		close(t.idle)
	}
	t.mu.Unlock()
	for _, w := range ws {
		r := r
		r.IDMessage = w.IDMessage
		w.Done(r)
	}
}

// shown maps a statusMessage to a state; "" for one not yet sent
// (pending, or a value Green API may add).
func shown(statusMessage string) string {
	switch strings.ToLower(statusMessage) {
	case "sent":
		return Sent
	case "delivered":
		return Delivered
	case "read":
		return Read
	}
	return ""
}

// sameKind reports whether s can be a status sent with method.
func sameKind(method string, s greenapi.OutgoingStatus) bool {
	var types []string
	switch method {
	case greenapi.MethodSendMediaStatus:
		types = []string{"imageMessage", "videoMessage"}
	case greenapi.MethodSendVoiceStatus:
		types = []string{"audioMessage"}
	case greenapi.MethodSendTextStatus:
		types = []string{"extendedTextMessage", "textMessage"}
	default: // a media job that died mid-send, before its method was recorded
		types = []string{"imageMessage", "videoMessage", "audioMessage"}
	}
	return slices.Contains(types, s.TypeMessage)
}

func textOf(s greenapi.OutgoingStatus) string {
	if s.ExtendedTextMessage != nil {
		return s.ExtendedTextMessage.Text
	}
	if s.TypeMessage == "textMessage" {
		return s.TextMessage
	}
	return s.Caption
}

func describe(w *Watch) string {
	if w.Method == "" {
		return "media status"
	}
	switch {
	case w.Text == "":
		return w.Method + " without caption"
	case w.Method == greenapi.MethodSendTextStatus:
		return w.Method + " with this text"
	}
	return w.Method + " with this caption"
}
