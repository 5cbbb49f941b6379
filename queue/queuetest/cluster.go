// Package queuetest runs NATS clusters with JetStream inside a test
// process, for tests of what mediaprep does when a node goes.
package queuetest

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// patience bounds every wait; tests never assert on how long anything took.
const patience = 30 * time.Second

// Cluster is three NATS servers with JetStream in this process, joined by
// routes: the smallest cluster that keeps 3 copies.
type Cluster struct {
	t       testing.TB
	log     *slog.Logger
	servers []*server.Server
	opts    []*server.Options
}

// StartCluster starts a 3-node cluster on loopback, each node with its own
// store, and waits until JetStream has a meta leader. The nodes log to
// log (nil: nowhere). They stop at cleanup.
func StartCluster(t testing.TB, log *slog.Logger) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster: skipped under -short")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ports := freePorts(t, 3)
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &Cluster{t: t, log: log}
	for i := range 3 {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "mediaprep-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		}
		c.opts = append(c.opts, o)
		c.servers = append(c.servers, nil)
		c.Start(i)
	}
	t.Cleanup(func() {
		for _, s := range c.servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	c.WaitReady()
	return c
}

// Start starts (or restarts) node i, 0 to 2.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatal(err)
	}
	s.SetLoggerV2(serverLog{c.log.With("node", o.ServerName)}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(patience) {
		c.t.Fatalf("node %s not ready", o.ServerName)
	}
	c.servers[i] = s
}

// Stop shuts node name down, as a crash would for its clients, and
// returns its index for Start.
func (c *Cluster) Stop(name string) int {
	c.t.Helper()
	for i, s := range c.servers {
		if s != nil && s.Name() == name {
			s.Shutdown()
			s.WaitForShutdown()
			c.servers[i] = nil
			return i
		}
	}
	c.t.Fatalf("no running node %q", name)
	return -1
}

// WaitReady waits until every running node is routed to the others and
// JetStream has a meta leader.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	waitFor(c.t, "the cluster to form", func() bool {
		running := 0
		for _, s := range c.servers {
			if s != nil {
				running++
			}
		}
		for _, s := range c.servers {
			if s == nil {
				continue
			}
			if s.NumRoutes() < running-1 || !s.JetStreamIsClustered() || !s.JetStreamIsCurrent() {
				return false
			}
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) < running {
				return false // the meta leader does not know every node yet
			}
		}
		return c.hasMetaLeader()
	})
}

func (c *Cluster) hasMetaLeader() bool {
	for _, s := range c.servers {
		if s != nil && s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// URLs is the client URL of every running node, comma separated, for
// nats.Connect.
func (c *Cluster) URLs() string {
	var u []string
	for _, s := range c.servers {
		if s != nil {
			u = append(u, s.ClientURL())
		}
	}
	return strings.Join(u, ",")
}

// Connect opens a client connection that knows every node and fails
// over; it is closed at cleanup.
func (c *Cluster) Connect() *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// freePorts picks n free TCP ports on loopback. (A port can be taken
// between this and its use; the cluster ports are fixed because the
// routes must name them before the servers start.)
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s", what, patience)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverLog hands the server's log lines to slog, notices as debug.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLog) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
