package main

// A net.Conn wrapper that watches the yamux byte stream in both directions
// without changing it. It exists because the 2019 Debian snapshot of
// hashicorp/yamux hides things the scenarios need:
//   - inbound: GoAway frames and their code, peer SYN counts, ACK/RST counts for the
//     streams we opened (idle-streams), and per-stream FIN/RST with the number of Data
//     bytes that preceded the FIN, plus a per-stream wake-up once the library has
//     handled the stream's frames (see delivered and readAfterLocalClose);
//   - outbound: frame boundaries, so a raw WindowUpdate|RST can be written between
//     two library frames (the library has no API to reset a stream);
//   - -trace: one stderr line per frame in each direction.
// Only the 12-byte headers are parsed; Data bodies are skipped by length.

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

const (
	hdrLen = 12

	typeData   = 0
	typeWindow = 1
	typePing   = 2
	typeGoAway = 3

	flagSYN = 1
	flagACK = 2
	flagFIN = 4
	flagRST = 8
)

type frameHeader struct {
	version uint8
	typ     uint8
	flags   uint16
	id      uint32
	length  uint32
}

func decodeHeader(b []byte) frameHeader {
	return frameHeader{
		version: b[0],
		typ:     b[1],
		flags:   binary.BigEndian.Uint16(b[2:4]),
		id:      binary.BigEndian.Uint32(b[4:8]),
		length:  binary.BigEndian.Uint32(b[8:12]),
	}
}

func encodeHeader(h frameHeader) []byte {
	b := make([]byte, hdrLen)
	b[0] = h.version
	b[1] = h.typ
	binary.BigEndian.PutUint16(b[2:4], h.flags)
	binary.BigEndian.PutUint32(b[4:8], h.id)
	binary.BigEndian.PutUint32(b[8:12], h.length)
	return b
}

func (h frameHeader) String() string {
	names := []string{"Data", "WindowUpdate", "Ping", "GoAway"}
	t := fmt.Sprintf("type%d", h.typ)
	if int(h.typ) < len(names) {
		t = names[h.typ]
	}
	f := ""
	for i, n := range []string{"SYN", "ACK", "FIN", "RST"} {
		if h.flags&(1<<uint(i)) != 0 {
			if f != "" {
				f += "|"
			}
			f += n
		}
	}
	if f == "" {
		f = "-"
	}
	return fmt.Sprintf("v%d %s %s id=%d len=%d", h.version, t, f, h.id, h.length)
}

// wireStream is what the peer has sent on one stream, as seen on the wire.
type wireStream struct {
	data     uint64 // Data payload bytes announced by headers so far
	fin      bool
	finBytes uint64 // value of data when the FIN arrived (includes the FIN frame's own payload)
	rst      bool
	notify   chan struct{} // nil, or signalled (capacity 1, never blocks) once frames were handled
}

type observer struct {
	mu           sync.Mutex
	trackStreams bool
	streams      map[uint32]*wireStream
	peerParity   uint32 // 1 if the peer is the yamux client (odd IDs), 0 if server
	peerSYNs     uint64
	ourACKs      uint64 // frames with ACK for a stream of our parity (one per stream from a sane peer)
	ourRSTs      uint64 // frames with RST for a stream of our parity
	goAwayCode   uint32
	goAwaySeen   bool
	goAwayCh     chan struct{} // closed on the first inbound GoAway
	touched      []uint32      // trackStreams: streams with frames in the current read chunk
}

func newObserver(peerIsClient bool) *observer {
	o := &observer{streams: map[uint32]*wireStream{}, goAwayCh: make(chan struct{})}
	if peerIsClient {
		o.peerParity = 1
	}
	return o
}

func (o *observer) onInbound(h frameHeader) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch h.typ {
	case typeGoAway:
		if !o.goAwaySeen {
			o.goAwaySeen = true
			o.goAwayCode = h.length
			close(o.goAwayCh)
		}
	case typeData, typeWindow:
		if h.flags&flagSYN != 0 && h.id%2 == o.peerParity {
			o.peerSYNs++
		}
		if h.id != 0 && h.id%2 != o.peerParity {
			if h.flags&flagACK != 0 {
				o.ourACKs++
			}
			if h.flags&flagRST != 0 {
				o.ourRSTs++
			}
		}
		if !o.trackStreams {
			return
		}
		s := o.streams[h.id]
		if s == nil {
			s = &wireStream{}
			o.streams[h.id] = s
		}
		if h.typ == typeData {
			s.data += uint64(h.length)
		}
		if h.flags&flagFIN != 0 && !s.fin {
			s.fin = true
			s.finBytes = s.data
		}
		if h.flags&flagRST != 0 {
			s.rst = true
		}
		o.touched = append(o.touched, h.id)
	}
}

// delivered is called at the start of every wireConn.Read. The library reads the
// connection through a bufio.Reader on one goroutine, which asks for more bytes only
// when every byte read before has been consumed, i.e. every frame that was complete in
// the earlier chunks has been handled (its data is in the stream's buffer, its flags
// applied). So this is the moment to wake the readers of the streams those frames were
// for: a wake-up any earlier could find the data not there yet. (A Data frame whose body
// is still arriving gets woken early; its reader then blocks in Stream.Read on the
// library's recvLock, which readData holds until the body is complete.)
func (o *observer) delivered() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range o.touched {
		if s := o.streams[id]; s != nil && s.notify != nil {
			select {
			case s.notify <- struct{}{}:
			default:
			}
		}
	}
	o.touched = o.touched[:0]
}

// notifier returns the stream's wake-up channel (creating the entry if needed). Create it
// before reading the stream: a frame handled after that leaves the signal queued.
func (o *observer) notifier(id uint32) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.streams[id]
	if s == nil {
		s = &wireStream{}
		o.streams[id] = s
	}
	if s.notify == nil {
		s.notify = make(chan struct{}, 1)
	}
	return s.notify
}

// ourStreamReplies: ACK and RST frames seen so far for streams we opened.
func (o *observer) ourStreamReplies() (acks, rsts uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ourACKs, o.ourRSTs
}

func (o *observer) stream(id uint32) (ws wireStream, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.streams[id]
	if s == nil {
		return wireStream{}, false
	}
	return *s, true
}

func (o *observer) forget(id uint32) {
	o.mu.Lock()
	delete(o.streams, id)
	o.mu.Unlock()
}

func (o *observer) goAway() (code uint32, seen bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.goAwayCode, o.goAwaySeen
}

func (o *observer) synCount() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.peerSYNs
}

// wireConn forwards every byte unchanged. Reads come only from the library's
// receive goroutine and writes only from its send goroutine, plus inject().
type wireConn struct {
	net.Conn
	obs   *observer
	trace io.Writer // nil: no tracing

	// inbound parse state (single reader)
	rhdr  [hdrLen]byte
	rfill int
	rleft uint32

	// outbound parse state
	wmu     sync.Mutex
	whdr    [hdrLen]byte
	wfill   int
	wleft   uint32
	pending [][]byte // raw frames waiting for a frame boundary
}

func (c *wireConn) Read(p []byte) (int, error) {
	c.obs.delivered()
	n, err := c.Conn.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if c.rleft > 0 {
			k := uint32(len(b))
			if k > c.rleft {
				k = c.rleft
			}
			c.rleft -= k
			b = b[k:]
			continue
		}
		k := copy(c.rhdr[c.rfill:], b)
		c.rfill += k
		b = b[k:]
		if c.rfill == hdrLen {
			c.rfill = 0
			h := decodeHeader(c.rhdr[:])
			if c.trace != nil {
				fmt.Fprintf(c.trace, "< %v\n", h)
			}
			c.obs.onInbound(h)
			if h.typ == typeData {
				c.rleft = h.length
			}
		}
	}
	return n, err
}

func (c *wireConn) atBoundary() bool { return c.wfill == 0 && c.wleft == 0 }

// Write splits p at frame boundaries so queued raw frames can go in between.
func (c *wireConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	total := 0
	for len(p) > 0 {
		var seg int
		if c.wleft > 0 {
			seg = len(p)
			if uint32(seg) > c.wleft {
				seg = int(c.wleft)
			}
		} else {
			seg = hdrLen - c.wfill
			if seg > len(p) {
				seg = len(p)
			}
		}
		n, err := c.Conn.Write(p[:seg])
		c.advanceOut(p[:n])
		total += n
		if err != nil {
			return total, err
		}
		p = p[n:]
		if c.atBoundary() && len(c.pending) > 0 {
			if err := c.flushPending(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

func (c *wireConn) advanceOut(b []byte) {
	if c.wleft > 0 {
		c.wleft -= uint32(len(b))
		return
	}
	c.wfill += copy(c.whdr[c.wfill:], b)
	if c.wfill == hdrLen {
		c.wfill = 0
		h := decodeHeader(c.whdr[:])
		if c.trace != nil {
			fmt.Fprintf(c.trace, "> %v\n", h)
		}
		if h.typ == typeData {
			c.wleft = h.length
		}
	}
}

func (c *wireConn) flushPending() error {
	for len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		if c.trace != nil {
			fmt.Fprintf(c.trace, "> %v (injected)\n", decodeHeader(f))
		}
		if _, err := c.Conn.Write(f); err != nil {
			return err
		}
	}
	return nil
}

// inject writes a header-only frame (no body) at the next frame boundary.
func (c *wireConn) inject(h frameHeader) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pending = append(c.pending, encodeHeader(h))
	if c.atBoundary() {
		return c.flushPending()
	}
	return nil
}
