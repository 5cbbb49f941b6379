package service

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/mediaprep/mediaprep/queue"
)

// embeddedNATS is an in-process NATS server (no listener) and a
// connection to it, both closed when the test ends.
func embeddedNATS(t testing.TB) (*queue.Embedded, *nats.Conn) {
	t.Helper()
	emb, err := queue.StartEmbedded(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return emb, nc
}

// embeddedQueue is a real queue with cfg on an in-process NATS server,
// stopped when the test ends.
func embeddedQueue(t testing.TB, cfg queue.Config) *queue.Queue {
	t.Helper()
	_, nc := embeddedNATS(t)
	q, err := queue.Open(t.Context(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
