package queue

import (
	"testing"
	"time"
)

// TestEmbeddedLost: when nats-server turns JetStream off (as it does when
// a write finds the disk full), Lost is closed; a plain Shutdown does not
// close it.
func TestEmbeddedLost(t *testing.T) {
	e, err := StartEmbedded(t.TempDir(), "", testLogger(t), WithWatch(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	q, _ := openQueue(t, e, Config{})
	if err := q.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Lost():
		t.Fatal("Lost is closed while JetStream runs")
	default:
	}
	if err := e.server.ShutdownJetStream(); err != nil { // what the server does on ENOSPC
		t.Fatal(err)
	}
	select {
	case <-e.Lost():
	case <-time.After(patience):
		t.Fatal("Lost is not closed after JetStream stopped")
	}

	e2 := startServer(t)
	e2.Shutdown()
	select {
	case <-e2.Lost():
		t.Error("Lost is closed by Shutdown")
	default:
	}
}
