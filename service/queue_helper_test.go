package service

import (
	"testing"

	"github.com/mediaprep/mediaprep/queue"
)

// embeddedQueue is a real queue on an in-process NATS server (no
// listener), stopped when the test ends.
func embeddedQueue(t *testing.T) *queue.Queue {
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
	q, err := queue.Open(t.Context(), nc, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}
