package service

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimiter caps the connections a listener keeps open. At the cap, a
// new connection closes the one that has been idle (between requests, or
// silent since it opened) the longest, so that idle clients cannot lock
// others out; when every connection is busy with a request, Accept waits
// for one to end. The http.Server must report states to connState.
type connLimiter struct {
	net.Listener
	max int

	mu     sync.Mutex
	freed  *sync.Cond // signalled when a connection closes or the listener does
	open   map[*limitedConn]struct{}
	closed bool
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	l := &connLimiter{Listener: ln, max: max, open: map[*limitedConn]struct{}{}}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// limitedConn is a connection of a connLimiter; closing it frees its place.
type limitedConn struct {
	net.Conn
	l       *connLimiter
	once    sync.Once
	waiting bool      // idle or new: no request in progress (under l.mu)
	since   time.Time // when it became so (under l.mu)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.open, c)
		c.l.mu.Unlock()
		c.l.freed.Broadcast()
	})
	return err
}

// Accept returns the next connection once there is room for it.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l, waiting: true, since: time.Now()}
	l.mu.Lock()
	for len(l.open) >= l.max && !l.closed {
		if v := l.longestIdle(); v != nil {
			l.mu.Unlock()
			v.Close() // takes l.mu to leave open
			l.mu.Lock()
			continue
		}
		l.freed.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	l.open[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// longestIdle is the open connection idle the longest, or nil when every
// one is busy. It holds l.mu.
func (l *connLimiter) longestIdle() *limitedConn {
	var v *limitedConn
	for c := range l.open {
		if c.waiting && (v == nil || c.since.Before(v.since)) {
			v = c
		}
	}
	return v
}

// connState follows the http.Server's view of each connection.
func (l *connLimiter) connState(c net.Conn, s http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateActive:
		lc.waiting = false
	case http.StateIdle:
		lc.waiting, lc.since = true, time.Now()
	}
}

// Close closes the listener and wakes an Accept waiting for room.
func (l *connLimiter) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.freed.Broadcast()
	return err
}
