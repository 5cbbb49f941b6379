package delivery_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

const (
	testID    = "1101000001"
	testToken = "tok-SECRET-delivery"
)

type env struct {
	srv     *greenapitest.Server
	client  *greenapi.Client
	tracker *delivery.Tracker
	link    string
}

// newEnv starts the stand-in, a client, a file to link to and a Tracker
// with a short window, running until the test ends.
func newEnv(t *testing.T, window time.Duration) *env {
	t.Helper()
	srv := greenapitest.NewServer(t, testID, testToken)
	client, err := greenapi.New(greenapi.Config{APIURL: srv.URL(), IDInstance: testID, Token: testToken, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write([]byte("jpeg")) // a failed write shows as a failed check in the test
	}))
	t.Cleanup(files.Close)
	tr := delivery.New(client, delivery.Config{Window: window, First: 20 * time.Millisecond, Max: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	ctx := t.Context()
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	t.Cleanup(func() { <-done })
	return &env{srv: srv, client: client, tracker: tr, link: files.URL + "/a.jpg"}
}

func (e *env) send(t *testing.T, caption string) (greenapi.Sent, error) {
	t.Helper()
	return e.client.SendMediaStatus(t.Context(), greenapi.MediaStatus{URLFile: e.link, FileName: "a.jpg", Caption: caption})
}

func follow(tr *delivery.Tracker, w delivery.Watch) chan delivery.Result {
	ch := make(chan delivery.Result, 1)
	w.Done = func(r delivery.Result) { ch <- r }
	tr.Follow(w)
	return ch
}

func TestFollowByIDMessage(t *testing.T) {
	t.Run("sent at once", func(t *testing.T) {
		e := newEnv(t, time.Minute)
		sent, err := e.send(t, "one")
		if err != nil {
			t.Fatal(err)
		}
		r := <-follow(e.tracker, delivery.Watch{IDMessage: sent.IDMessage})
		if r.State != delivery.Sent || r.IDMessage != sent.IDMessage {
			t.Errorf("got %+v, want sent", r)
		}
		<-e.tracker.Idle()
	})
	t.Run("appears late, already delivered", func(t *testing.T) {
		e := newEnv(t, time.Minute)
		e.srv.HoldStatuses(true)
		sent, err := e.send(t, "late")
		if err != nil {
			t.Fatal(err)
		}
		ch := follow(e.tracker, delivery.Watch{IDMessage: sent.IDMessage})
		for e.srv.Count(greenapi.MethodGetOutgoingStatuses) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case r := <-ch:
			t.Fatalf("settled before the status showed: %+v", r)
		default:
		}
		e.srv.SetStatusMessage(sent.IDMessage, "delivered")
		if r := <-ch; r.State != delivery.Delivered || r.SeenAfter <= 0 {
			t.Errorf("got %+v, want delivered", r)
		}
	})
	t.Run("never appears", func(t *testing.T) {
		e := newEnv(t, 200*time.Millisecond)
		e.srv.HoldStatuses(true)
		sent, err := e.send(t, "never")
		if err != nil {
			t.Fatal(err)
		}
		r := <-follow(e.tracker, delivery.Watch{IDMessage: sent.IDMessage})
		if r.State != delivery.NotConfirmed || !strings.Contains(r.Note, "not in getOutgoingStatuses") {
			t.Errorf("got %+v, want not_confirmed", r)
		}
	})
}

// A send whose answer was lost is resolved only by exactly one match.
func TestFollowLostAnswer(t *testing.T) {
	lost := greenapitest.Fault{Status: http.StatusGatewayTimeout, Accept: true}
	t.Run("one match", func(t *testing.T) {
		e := newEnv(t, time.Minute)
		other, _ := e.send(t, "another caption")
		start := time.Now()
		e.srv.Inject(greenapi.MethodSendMediaStatus, lost)
		if _, err := e.send(t, "lost one"); !errors.Is(err, greenapi.ErrOutcomeUnknown) {
			t.Fatalf("got %v, want outcome unknown", err)
		}
		r := <-follow(e.tracker, delivery.Watch{Method: greenapi.MethodSendMediaStatus, Text: "lost one", SentAt: start})
		posted := e.srv.Posted()
		if r.State != delivery.Sent || r.IDMessage != posted[1].IDMessage || r.IDMessage == other.IDMessage || !strings.Contains(r.Note, "resolved from getOutgoingStatuses") {
			t.Errorf("got %+v, want resolved to %s", r, posted[1].IDMessage)
		}
	})
	t.Run("connection dropped", func(t *testing.T) {
		e := newEnv(t, time.Minute)
		start := time.Now()
		e.srv.Inject(greenapi.MethodSendMediaStatus, greenapitest.Fault{Drop: true, Accept: true})
		if _, err := e.send(t, "dropped"); !errors.Is(err, greenapi.ErrOutcomeUnknown) {
			t.Fatalf("got %v, want outcome unknown", err)
		}
		r := <-follow(e.tracker, delivery.Watch{Method: greenapi.MethodSendMediaStatus, Text: "dropped", SentAt: start})
		if posted := e.srv.Posted(); len(posted) != 1 || r.IDMessage != posted[0].IDMessage {
			t.Errorf("got %+v, want resolved to the one accepted", r)
		}
	})
	t.Run("two matches", func(t *testing.T) {
		e := newEnv(t, time.Minute)
		start := time.Now()
		e.srv.Inject(greenapi.MethodSendMediaStatus, lost, lost)
		for range 2 {
			if _, err := e.send(t, "same"); !errors.Is(err, greenapi.ErrOutcomeUnknown) {
				t.Fatalf("send: %v, want outcome unknown", err)
			}
		}
		r := <-follow(e.tracker, delivery.Watch{Method: greenapi.MethodSendMediaStatus, Text: "same", SentAt: start})
		if r.State != delivery.NotConfirmed || r.IDMessage != "" || !strings.Contains(r.Note, "2 statuses") {
			t.Errorf("got %+v, want not_confirmed naming both", r)
		}
	})
	t.Run("never accepted", func(t *testing.T) {
		e := newEnv(t, 200*time.Millisecond)
		start := time.Now()
		e.srv.Inject(greenapi.MethodSendMediaStatus, greenapitest.Fault{Status: http.StatusGatewayTimeout})
		if _, err := e.send(t, "gone"); !errors.Is(err, greenapi.ErrOutcomeUnknown) {
			t.Fatalf("send: %v, want outcome unknown", err)
		}
		if _, err := e.send(t, "a different caption"); err != nil {
			t.Fatal(err)
		}
		r := <-follow(e.tracker, delivery.Watch{Method: greenapi.MethodSendMediaStatus, Text: "gone", SentAt: start})
		if r.State != delivery.NotConfirmed || r.IDMessage != "" || !strings.Contains(r.Note, "no sendMediaStatus with this caption") {
			t.Errorf("got %+v, want not_confirmed", r)
		}
	})
}

// Statuses still followed when the Tracker stops are reported pending.
func TestStopReportsPending(t *testing.T) {
	srv := greenapitest.NewServer(t, testID, testToken)
	client, _ := greenapi.New(greenapi.Config{APIURL: srv.URL(), IDInstance: testID, Token: testToken})
	tr := delivery.New(client, delivery.Config{First: time.Hour})
	ch := follow(tr, delivery.Watch{IDMessage: "3EB0AAAA"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tr.Run(ctx)
	if r := <-ch; r.State != delivery.Pending || r.IDMessage != "3EB0AAAA" {
		t.Errorf("got %+v, want pending", r)
	}
	// After Run ended, a new watch is reported at once.
	late := follow(tr, delivery.Watch{IDMessage: "3EB0BBBB"})
	if r := <-late; r.State != delivery.Pending || r.IDMessage != "3EB0BBBB" {
		t.Errorf("after stop: got %+v, want pending", r)
	}
	if n := srv.Count(""); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// A status the Tracker is told is another job's (Know) is never the match
// of a lost answer: of two with the caption, the other one is.
func TestLostAnswerSkipsKnownStatuses(t *testing.T) {
	e := newEnv(t, time.Minute)
	at := time.Now()
	var ids []string
	for range 2 {
		sent, err := e.send(t, "twice")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sent.IDMessage)
	}
	e.tracker.Know(ids[0], at)
	e.tracker.Know("", at) // nothing to know
	r := <-follow(e.tracker, delivery.Watch{Method: greenapi.MethodSendMediaStatus, Text: "twice", SentAt: at})
	if r.State != delivery.Sent || r.IDMessage != ids[1] {
		t.Errorf("got %+v, want %s sent", r, ids[1])
	}
	if w := e.tracker.Window(); w != time.Minute {
		t.Errorf("Window() = %s", w)
	}
}
