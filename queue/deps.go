package queue

// Imported so that go.mod keeps them while the package is written.
import (
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
)
