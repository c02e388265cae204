package main

// The session side shared by every scenario: the peer, its log tap and its accept loop.

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
)

type peer struct {
	o    options
	sess *yamux.Session
	wc   *wireConn
	obs  *observer
	tap  *logTap
	base memSample // idle-*: taken before the session was created

	endErr error         // valid once ended is closed
	ended  chan struct{} // closed when the session is over
}

// logTap passes the library's log lines through and remembers the first [ERR] line
// that is not just "the peer went away". The 2019 library keeps its session error
// private (only AcceptStream returns it, and not always: see watch), so this line is
// the most precise reason available, e.g. "receive window exceeded (stream: 1, ...)".
type logTap struct {
	mu    sync.Mutex
	w     io.Writer
	first string
}

func (t *logTap) Write(b []byte) (int, error) {
	line := string(b)
	if i := strings.Index(line, "[ERR] "); i >= 0 {
		msg := strings.TrimSpace(line[i+len("[ERR] "):])
		benign := strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset") ||
			strings.Contains(msg, "use of closed network connection")
		t.mu.Lock()
		if t.first == "" && !benign {
			t.first = msg
		}
		t.mu.Unlock()
	}
	return t.w.Write(b)
}

func (t *logTap) firstError() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first
}

// normalEnd: the peer closed the connection, or we closed the session.
func normalEnd(err error) bool {
	return err == nil || err == io.EOF || err == yamux.ErrSessionShutdown ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF)
}

var errStuckAccept = errors.New("session closed while a stream was being accepted")

// sessionResult maps the session's end error to an exit code, printing errors.
func sessionResult(err error) int {
	if normalEnd(err) {
		return exitOK
	}
	out("session error: %v", err)
	errf("session error: %v", err)
	return exitSession
}

// watch accepts streams in the background, passing each to handle (nil: close
// unexpected streams with FIN), and sets endErr/ended when the session is over.
//
// The session can end without AcceptStream returning: in the 2019 library a
// receive-window violation returns from readData with the stream's recvLock still
// held, so an AcceptStream busy sending that stream's ACK blocks forever. Hence
// CloseChan is watched too, and AcceptStream may also report ErrSessionShutdown
// for a session that died of an error; the log tap supplies the real reason then.
func (p *peer) watch(handle func(*yamux.Stream)) {
	p.ended = make(chan struct{})
	acceptErr := make(chan error, 1)
	go func() {
		for {
			st, err := p.sess.AcceptStream()
			if err != nil {
				acceptErr <- err
				return
			}
			if handle != nil {
				handle(st)
				continue
			}
			errf("unexpected stream %d opened by peer; resetting it", st.StreamID())
			p.reject(st)
		}
	}()
	go func() {
		var err error
		select {
		case err = <-acceptErr:
		case <-p.sess.CloseChan():
			select {
			case err = <-acceptErr:
			case <-time.After(250 * time.Millisecond):
				err = errStuckAccept
			}
		}
		if (normalEnd(err) || err == errStuckAccept) && p.tap.firstError() != "" {
			err = errors.New(p.tap.firstError())
		}
		p.endErr = err
		close(p.ended)
	}()
}

// reject resets a stream this scenario did not expect (a FIN would leave a peer that
// keeps writing stuck on a window nobody reopens). The library has no reset API; see wire.go.
func (p *peer) reject(st *yamux.Stream) {
	p.wc.inject(frameHeader{typ: typeWindow, flags: flagRST, id: st.StreamID()})
}

// sessionEndError returns the end error if the session has already ended.
func (p *peer) sessionEndError() (error, bool) {
	select {
	case <-p.ended:
		return p.endErr, true
	default:
		return nil, false
	}
}
