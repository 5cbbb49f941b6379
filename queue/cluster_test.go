package queue

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// cluster is three NATS servers with JetStream in this process, joined by
// routes: the smallest cluster that keeps 3 copies.
type cluster struct {
	t       *testing.T
	servers []*server.Server
	opts    []*server.Options
}

// startCluster starts a 3-node cluster, each node with its own store, and
// waits until JetStream has a meta leader.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &cluster{t: t}
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
		c.start(i)
	}
	t.Cleanup(func() {
		for _, s := range c.servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	c.waitReady()
	return c
}

// start starts (or restarts) node i.
func (c *cluster) start(i int) {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatal(err)
	}
	s.SetLoggerV2(serverLog{testLogger(c.t).With("node", o.ServerName)}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(patience) {
		c.t.Fatalf("node %s not ready", o.ServerName)
	}
	c.servers[i] = s
}

// stop shuts node name down, as a crash would for its clients.
func (c *cluster) stop(name string) int {
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

// waitReady waits until every running node is routed to the others and
// JetStream has a meta leader.
func (c *cluster) waitReady() {
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
			if s.NumRoutes() < running-1 || !s.JetStreamIsClustered() {
				return false
			}
		}
		return c.hasMetaLeader()
	})
}

func (c *cluster) hasMetaLeader() bool {
	for _, s := range c.servers {
		if s != nil && s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// urls is the client URL of every node, comma separated, for nats.Connect.
func (c *cluster) urls() string {
	var u []string
	for _, s := range c.servers {
		if s != nil {
			u = append(u, s.ClientURL())
		}
	}
	return strings.Join(u, ",")
}

// connect opens a client connection that knows every node and fails over.
func (c *cluster) connect() *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// freePorts picks n free TCP ports on loopback. (A port can be taken
// between this and its use; the cluster ports are fixed because the
// routes must name them before the servers start.)
func freePorts(t *testing.T, n int) []int {
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
