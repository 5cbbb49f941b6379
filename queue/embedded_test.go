package queue

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestEmbeddedListen(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", ":0"} {
		t.Run(listen, func(t *testing.T) {
			e, err := StartEmbedded(t.TempDir(), listen, nil, WithToken("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Shutdown()
			url := e.ClientURL()
			if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") {
				t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", url)
			}
			// Another process joins over TCP.
			nc, err := nats.Connect(url, nats.Token("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			q, err := Open(t.Context(), nc, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEmbeddedNoListen(t *testing.T) {
	e := startServer(t)
	if u := e.ClientURL(); u != "" {
		t.Errorf("ClientURL = %q without listen, want \"\"", u)
	}
	if a := e.server.Addr(); a != nil {
		t.Errorf("listening on %s without listen", a)
	}
	q, _ := openQueue(t, e, Config{})
	if err := q.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedListenNeedsToken: listening, on loopback too, needs a token.
func TestEmbeddedListenNeedsToken(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0", ":0"} {
		e, err := StartEmbedded(t.TempDir(), listen, nil)
		if err == nil {
			e.Shutdown()
		}
		if !errors.Is(err, ErrNoToken) {
			t.Errorf("StartEmbedded(listen %q) without a token: %v, want ErrNoToken", listen, err)
		}
	}
}

func TestEmbeddedBadListen(t *testing.T) {
	for _, listen := range []string{"4222", "localhost:http", "127.0.0.1:70000"} {
		if e, err := StartEmbedded(t.TempDir(), listen, nil, WithToken("t")); err == nil {
			e.Shutdown()
			t.Errorf("StartEmbedded(listen %q): no error", listen)
		}
	}
}

// A queued job survives a restart of the server on the same folder.
func TestEmbeddedPersists(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Embedded, *nats.Conn, *Queue) {
		e, err := StartEmbedded(dir, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := e.Connect()
		if err != nil {
			t.Fatal(err)
		}
		q, err := Open(t.Context(), nc, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return e, nc, q
	}

	e, nc, q := start()
	j := enqueue(t, q, Job{Source: "uploads/a.mp4"})
	nc.Close()
	e.Shutdown()

	e, nc, q = start()
	defer e.Shutdown()
	defer nc.Close()
	got, err := q.Get(t.Context(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateQueued || got.Source != j.Source {
		t.Errorf("after restart: %+v", got)
	}
	if d, err := q.Depth(t.Context()); err != nil || d != 1 {
		t.Errorf("Depth after restart = %d, %v; want 1", d, err)
	}
}

func TestEmbeddedToken(t *testing.T) {
	e, err := StartEmbedded(t.TempDir(), "127.0.0.1:0", nil, WithToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	if nc, err := nats.Connect(e.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("connected without the token")
	}
	nc, err := nats.Connect(e.ClientURL(), nats.Token("s3cret"))
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	nc.Close()
	if nc, err = e.Connect(); err != nil {
		t.Fatalf("in-process: %v", err)
	}
	nc.Close()
}

// TestEmbeddedStoreInUse: a second server on a store that one runs on is
// refused (two queues on one store would each take the same files); once
// the first is shut down, the store is free again.
func TestEmbeddedStoreInUse(t *testing.T) {
	dir := t.TempDir()
	e, err := StartEmbedded(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e2, err := StartEmbedded(dir, "", nil); !errors.Is(err, ErrStoreInUse) {
		if err == nil {
			e2.Shutdown()
		}
		t.Fatalf("a second server on the same store: %v, want ErrStoreInUse", err)
	}
	e.Shutdown()
	e.Shutdown() // twice is fine
	e3, err := StartEmbedded(dir, "", nil)
	if err != nil {
		t.Fatalf("the store after Shutdown: %v", err)
	}
	e3.Shutdown()
}
