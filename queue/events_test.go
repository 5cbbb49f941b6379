package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// TestConsumeEventsSettles: nil acks an event, RetryLater hands it back
// (it comes again, counted), any other error drops it for good.
func TestConsumeEventsSettles(t *testing.T) {
	e := startServer(t)
	q, nc := openQueue(t, e, Config{})
	var mu sync.Mutex
	attempts := map[string][]int{}
	h := func(ctx context.Context, data []byte, attempt int) error {
		mu.Lock()
		attempts[string(data)] = append(attempts[string(data)], attempt)
		mu.Unlock()
		switch {
		case string(data) == "retry" && attempt < 3:
			return RetryLater(errors.New("queue down"), 10*time.Millisecond)
		case string(data) == "bad":
			return errors.New("not JSON")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.ConsumeEvents(ctx, EventsConfig{Subject: "bucket.events"}, h) }()
	js, _ := jetstream.New(nc)
	testutil.WaitFor(t, patience, "the events stream", func() bool {
		_, err := js.Stream(t.Context(), "MEDIAPREP_EVENTS")
		return err == nil
	})
	for _, m := range []string{"ok", "retry", "bad"} {
		if err := nc.Publish("bucket.events", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := js.Stream(t.Context(), "MEDIAPREP_EVENTS")
	testutil.WaitFor(t, patience, "every event to be stored, then settled", func() bool {
		info, err := s.Info(t.Context())
		// (Published without waiting: the stream may not have them yet.)
		return err == nil && info.State.LastSeq >= 3 && info.State.Msgs == 0
	})
	cancel()
	if err := receive(t, done, "ConsumeEvents to return"); err != nil {
		t.Errorf("ConsumeEvents: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]int{"ok": {1}, "retry": {1, 2, 3}, "bad": {1}}
	for k, w := range want {
		if got := attempts[k]; len(got) != len(w) || got[len(got)-1] != w[len(w)-1] {
			t.Errorf("event %q: attempts %v, want %v", k, got, w)
		}
	}
}

// TestConsumeEventsUsesAnOperatorsStream: a stream that captures the
// subject already is used as it is; mediaprep makes none of its own.
func TestConsumeEventsUsesAnOperatorsStream(t *testing.T) {
	e := startServer(t)
	q, nc := openQueue(t, e, Config{})
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "OPS_EVENTS", Subjects: []string{"minio.>"},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- q.ConsumeEvents(ctx, EventsConfig{Subject: "minio.events"}, func(_ context.Context, data []byte, _ int) error {
			got <- string(data)
			return nil
		})
	}()
	// Published before the consumer exists: the operator's stream keeps
	// it, and the durable consumer starts from the first event.
	if _, err := js.Publish(t.Context(), "minio.events", []byte("created")); err != nil {
		t.Fatal(err)
	}
	if d := receive(t, got, "the event"); d != "created" {
		t.Errorf("event %q", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ConsumeEvents: %v", err)
	}
	if _, err := js.Stream(t.Context(), "MEDIAPREP_EVENTS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("mediaprep made a stream of its own: %v", err)
	}
	s, _ := js.Stream(t.Context(), "OPS_EVENTS")
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Retention != jetstream.LimitsPolicy || len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != "minio.>" {
		t.Errorf("the operator's stream was changed: %+v", info.Config)
	}
	if _, err := s.Consumer(t.Context(), "inbox"); err != nil {
		t.Errorf("no inbox consumer on the operator's stream: %v", err)
	}
}
