package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// readyTimeout is how long StartEmbedded waits for the server.
const readyTimeout = 10 * time.Second

// ErrNoToken: an embedded server that listens was started without a token.
var ErrNoToken = errors.New("queue: no NATS token")

// ErrStoreInUse: another embedded server (in this process or another) runs
// on the same store. Two servers on one store would be two queues writing
// the same files, each taking the same dropped file as its own job.
var ErrStoreInUse = errors.New("queue: the embedded NATS store is in use")

// Embedded is a NATS server with JetStream running inside this process.
type Embedded struct {
	server *server.Server
	listen bool
	token  string // required from clients; empty: none
	dir    string
	lock   *os.File // flock'd while the server runs; see lockStore
	log    *slog.Logger

	stop     chan struct{} // closed by Shutdown
	stopOnce sync.Once
	downOnce sync.Once
	done     chan struct{} // closed when watch has returned
	lost     chan struct{} // see Lost
	lostOnce sync.Once
}

// StartEmbedded starts a NATS server with JetStream that stores its data
// under dir. With listen "" it opens no port and only Connect reaches it;
// with an address such as "127.0.0.1:4222" (":0" picks a free port) other
// processes can connect to ClientURL too, and a token (WithToken) is
// required: loopback is open to every local user, and the queue holds
// captions and phone numbers. One server at a time may use dir: another
// finds ErrStoreInUse. Call Shutdown when done.
func StartEmbedded(dir string, listen string, log *slog.Logger, opt ...EmbeddedOption) (*Embedded, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		return nil, fmt.Errorf("queue: the embedded NATS server needs a data folder")
	}
	opts := &server.Options{
		ServerName: "mediaprep",
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		DontListen: listen == "",
	}
	if listen != "" {
		host, port, err := net.SplitHostPort(listen)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("queue: NATS listen address %q: want host:port, such as 127.0.0.1:4222 or :0 for any free port", listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT // 0 would mean the default 4222
		}
		opts.Host, opts.Port = host, p
	}
	var eo embeddedOptions
	for _, o := range opt {
		o(&eo)
	}
	if listen != "" && eo.token == "" {
		return nil, fmt.Errorf("%w: the embedded NATS server listens on %s, so it needs a token (WithToken) that every client gives", ErrNoToken, listen)
	}
	if eo.token != "" {
		opts.Authorization = eo.token
	}
	lock, err := lockStore(dir)
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("queue: embedded NATS server: %w", err)
	}
	e := &Embedded{server: s, listen: listen != "", token: eo.token, dir: dir, lock: lock, log: log,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
	s.SetLoggerV2(&serverLog{log: log.With("component", "nats"), noSpace: func() { e.setLost("a write found the disk full") }}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		lock.Close()
		return nil, fmt.Errorf("queue: the embedded NATS server was not ready after %s (store %s, listen %q); see its log lines above", readyTimeout, dir, listen)
	}
	if eo.watchEvery <= 0 {
		eo.watchEvery = time.Second
	}
	go e.watch(eo.watchEvery)
	return e, nil
}

// lockStore takes dir's lock file (made if needed), held until the
// returned file is closed or the process ends, however it ends.
func lockStore(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue: the embedded NATS store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: the embedded NATS store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is used by another serve (on the same data dir?): give each its own data dir, or share one queue with --nats", ErrStoreInUse, dir)
		}
		return nil, fmt.Errorf("queue: locking the embedded NATS store %s: %w", dir, err)
	}
	return f, nil
}

// EmbeddedOption configures StartEmbedded.
type EmbeddedOption func(*embeddedOptions)

type embeddedOptions struct {
	token      string
	watchEvery time.Duration
}

// WithToken makes the server require token from every client: other
// processes connect with nats://TOKEN@host:port. Connect adds it itself.
func WithToken(token string) EmbeddedOption {
	return func(o *embeddedOptions) { o.token = token }
}

// WithWatch sets how often the server checks that JetStream still runs
// (see Lost); default 1 s.
func WithWatch(interval time.Duration) EmbeddedOption {
	return func(o *embeddedOptions) { o.watchEvery = interval }
}

// Connect opens an in-process connection to the server.
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if e.token != "" {
		opts = append(opts, nats.Token(e.token))
	}
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(e.server))...)
	if err != nil {
		return nil, fmt.Errorf("queue: connecting to the embedded NATS server: %w", err)
	}
	return nc, nil
}

// ClientURL is the address other processes connect to, or "" when the
// server does not listen.
func (e *Embedded) ClientURL() string {
	if !e.listen {
		return ""
	}
	u, err := url.Parse(e.server.ClientURL())
	if err != nil {
		return e.server.ClientURL()
	}
	// A server listening on every interface is reached on loopback.
	switch u.Hostname() {
	case "", "0.0.0.0":
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	case "::":
		u.Host = net.JoinHostPort("::1", u.Port())
	}
	return u.String()
}

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.stopOnce.Do(func() { close(e.stop) })
	<-e.done
	e.server.Shutdown()
	e.server.WaitForShutdown()
	e.downOnce.Do(func() { e.lock.Close() }) // the store is free for the next server
}

// Lost is closed when the store can no longer be trusted to write: a
// write found the disk full (nats-server then keeps failing that stream's
// writes, with space back or not), or JetStream stopped. Both last until
// the process restarts: the owner should exit non-zero so that a
// supervisor starts it again; the stored jobs are recovered from disk then.
// (Turning JetStream back on in-process races inside nats-server 2.15.2.)
func (e *Embedded) Lost() <-chan struct{} { return e.lost }

func (e *Embedded) setLost(why string) {
	e.lostOnce.Do(func() {
		e.log.Error("queue: the embedded JetStream cannot store jobs until a restart", "why", why, "store", e.dir)
		close(e.lost)
	})
}

// watch calls setLost once JetStream is off, polling every interval,
// until Shutdown.
func (e *Embedded) watch(every time.Duration) {
	defer close(e.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		if !e.server.JetStreamEnabled() {
			e.setLost("JetStream turned itself off")
			return
		}
	}
}

// serverLog hands the server's log lines to slog. Its notices (a banner
// of a dozen lines at start) are debug lines here.
type serverLog struct {
	log     *slog.Logger
	noSpace func() // called on an error line about a full disk
}

func (l *serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLog) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	if l.noSpace != nil && strings.Contains(msg, "no space left") {
		l.noSpace()
	}
}
func (l *serverLog) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLog) Tracef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
