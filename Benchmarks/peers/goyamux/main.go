// goyamux-peer: a hashicorp/yamux peer process for Tether's interop tests and benchmarks.
//
// Build (GOPATH mode against Debian's golang-github-hashicorp-yamux-dev, a 2019 snapshot):
//
//	apt-get update && apt-get install -y golang-go golang-github-hashicorp-yamux-dev
//	cd Benchmarks/peers/goyamux && GOPATH=/usr/share/gocode GO111MODULE=off go build -o /tmp/goyamux-peer .
//	(go vet: same environment, `go vet .`)
//
// Usage:
//
//	goyamux-peer -role client|server (-connect ADDR | -listen ADDR | -fd N) -scenario NAME [options]
//	ADDR is unix:/path or tcp:HOST:PORT. -listen accepts exactly one connection and first prints
//	"listening ADDR" (the real port for tcp port 0) on stdout. -fd N takes an inherited, connected socket.
//
// Scenarios (all stop by themselves; -timeout, default 60s, prints "timeout" and exits 3):
//
//	echo         accept streams until the session ends; per stream copy everything back, then FIN
//	             after the read side's EOF. Ends: peer closed the connection -> exit 0; peer sent
//	             GoAway(0) -> when every stream the peer opened is finished, close, exit 0.
//	             Prints "done streams=N bytes=B errors=E" on stdout.
//	echo-client  open -streams N concurrently, send [-min,-max] seeded random bytes on each (chunk
//	             sizes random in [1,-chunk]), half-close, read the echo, compare SHA-256.
//	             "ok streams=N bytes=TOTAL" exit 0; mismatch or stream error: message, exit 1.
//	sink         accept streams; read to EOF counting bytes; reply 8-byte big-endian count; FIN.
//	             Prints "done streams=N bytes=B" at a normal end (exit 0).
//	source       open -streams N, write -bytes B on each in 64 KiB writes, FIN, read the 8-byte reply.
//	             "ok streams=N bytes=TOTAL" exit 0; wrong reply: exit 1.
//	ping         -count pings, "rtt NANOSECONDS" per ping, close the session, exit 0.
//	goaway       send GoAway(0) at once, wait for the peer to close the connection, exit 0.
//	reset        accept one stream, read 1 byte, reset it, print "reset stream=ID", wait for the
//	             session to end. See -reset-mode: the 2019 library has no Stream.Reset.
//	bench-echo   echo with a 1 MiB copy buffer and library logging off.
//
// Exit codes: 0 ok; 1 scenario failure (mismatch, stream error, bad reply); 2 the session died with
// an error (prints "session error: ..."; e.g. "...window exceeded..." when the peer overran our
// window, "yamux protocol error" after a GoAway 1 from the peer); 3 timeout; 4 usage or connection setup error.
// A session "ends normally" when the peer closes the connection (EOF, ECONNRESET, EPIPE) or we close it.
//
// Library differences that shaped this program (Debian 0.0+git20190923.df201c7):
//   - No Stream.Reset/RST API. -reset-mode=raw (default) writes a genuine WindowUpdate|RST frame
//     for the stream between two library frames (wire.go); the library's own stream object does not
//     know and simply is never used again. -reset-mode=close uses Stream.Close() (FIN), the closest
//     thing the API offers.
//   - After a local Close(), Stream.Read returns io.EOF whenever its buffer is momentarily empty,
//     even though the peer has not sent FIN (fixed upstream in 2024, hashicorp/yamux#131). So the
//     readers that keep reading after their own half-close (echo-client, source) watch the inbound
//     frames (wire.go) and stop only when the peer's FIN was seen and every Data byte that came
//     before it has been read; until then an EOF just means "poll again".
//   - Session.Close() sends no GoAway. The session's end error is private: AcceptStream returns it,
//     but may return ErrSessionShutdown instead, and after a receive-window violation it can block
//     forever (readData returns with the stream's recvLock held). So the end is also detected through
//     CloseChan and the reason taken from the library's first "[ERR]" log line (logTap).
//   - Streams a scenario does not expect are answered with an injected RST (not FIN, which would
//     leave a writing peer stuck on a window that is never reopened).
//
// Verified with go1.19.8 on the 2-vCPU VM by ./verify.sh (34 checks, ~6 s; also run 5 times in a
// row and once with a `go build -race` binary: 34 passed, 0 failed each time). What it runs, with
// B=/tmp/goyamux-peer, A=unix:$T/s.sock or tcp:127.0.0.1:0, the listener started first in the
// background and its "listening ADDR" line read back as $L:
//
//	unix and tcp each:
//	  $B -role server -listen $A -scenario echo  |  $B -role client -connect $L -scenario echo-client
//	      -> client "ok streams=100 bytes=~262M" rc 0; server "done streams=100 ... errors=0" rc 0
//	  $B -role server -listen $A -scenario bench-echo  |  ... -scenario echo-client -streams 8 -window 16777216
//	      -> both rc 0
//	  $B -role client -listen $A -scenario echo-client -streams 20  |  $B -role server -connect $L -scenario echo
//	      -> both rc 0 (roles swapped: the yamux server opens even-numbered streams)
//	  $B -role server -listen $A -scenario sink  |  ... -scenario source -streams 8 -bytes 67108864
//	      -> "ok streams=8 bytes=536870912" rc 0; sink "done streams=8 bytes=536870912" rc 0
//	unix:
//	  ping (client) vs echo: 3 "rtt N" lines, both rc 0;  ping -count 2 (server) vs echo (client): both rc 0
//	  goaway (server) vs echo (client): echo sees GoAway(0), closes, both rc 0
//	  goaway vs echo-client -streams 2: client rc 1 ("not accepting" or "connection reset"), goaway rc 0
//	  reset vs echo-client -streams 1: server "reset stream=1" rc 0; client "connection reset" rc 1
//	  reset -reset-mode close vs echo-client -min 100 -max 100: server rc 0; client "mismatch" rc 1
//	  echo -timeout 1s with an idle raw client: "timeout", rc 3
//	  sink vs a raw client sending SYN + one 262145-byte Data frame:
//	      "session error: yamux: receive window exceeded (stream: 1, remain: 262144, recv: 262145)" rc 2
//	  echo vs a raw client sending GoAway(1): "session error: yamux protocol error" rc 2
//	  -fd: python3 socketpair, one end each to `-role server -fd N -scenario echo` and
//	      `-role client -fd N -scenario echo-client -streams 10`: both rc 0
//	  -role nobody: rc 4
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
)

const (
	exitOK      = 0
	exitFail    = 1
	exitSession = 2
	exitTimeout = 3
	exitUsage   = 4
)

type options struct {
	role      string
	connect   string
	listen    string
	fd        int
	window    uint
	keepalive bool
	backlog   int
	scenario  string
	streams   int
	min, max  int64
	chunk     int
	seed      int64
	bytes     int64
	count     int
	timeout   time.Duration
	resetMode string
	trace     bool
}

var stdoutMu sync.Mutex

func out(format string, a ...interface{}) {
	stdoutMu.Lock()
	fmt.Fprintf(os.Stdout, format+"\n", a...)
	stdoutMu.Unlock()
}

func errf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "goyamux-peer: "+format+"\n", a...)
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	var o options
	fs := flag.NewFlagSet("goyamux-peer", flag.ContinueOnError)
	fs.StringVar(&o.role, "role", "", "yamux role: client (odd stream IDs) or server (even)")
	fs.StringVar(&o.connect, "connect", "", "connect to unix:/path or tcp:HOST:PORT")
	fs.StringVar(&o.listen, "listen", "", "listen on unix:/path or tcp:HOST:PORT, accept one connection")
	fs.IntVar(&o.fd, "fd", -1, "use this inherited connected socket fd")
	fs.UintVar(&o.window, "window", 262144, "MaxStreamWindowSize in bytes (>= 262144)")
	fs.BoolVar(&o.keepalive, "keepalive", true, "EnableKeepAlive (ping every 30s)")
	fs.IntVar(&o.backlog, "backlog", 256, "AcceptBacklog (also bounds un-ACKed outbound streams)")
	fs.StringVar(&o.scenario, "scenario", "", "echo|echo-client|sink|source|ping|goaway|reset|bench-echo")
	fs.IntVar(&o.streams, "streams", 100, "echo-client/source: number of concurrent streams")
	fs.Int64Var(&o.min, "min", 1<<20, "echo-client: minimum bytes per stream")
	fs.Int64Var(&o.max, "max", 4<<20, "echo-client: maximum bytes per stream")
	fs.IntVar(&o.chunk, "chunk", 64<<10, "echo-client: write sizes are random in [1,chunk]")
	fs.Int64Var(&o.seed, "seed", 1, "echo-client: PRNG seed (stream index mixed in)")
	fs.Int64Var(&o.bytes, "bytes", 4<<20, "source: bytes per stream")
	fs.IntVar(&o.count, "count", 3, "ping: number of pings")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "print \"timeout\" and exit 3 after this long (0 = never)")
	fs.StringVar(&o.resetMode, "reset-mode", "raw", "reset: raw (inject a WindowUpdate|RST frame) or close (Stream.Close, FIN)")
	fs.BoolVar(&o.trace, "trace", false, "log every frame header in both directions to stderr")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if err := validate(&o); err != nil {
		errf("%v", err)
		return exitUsage
	}

	if o.timeout > 0 {
		time.AfterFunc(o.timeout, func() {
			out("timeout")
			errf("timeout after %v in scenario %s", o.timeout, o.scenario)
			os.Exit(exitTimeout)
		})
	}

	conn, err := getConn(&o)
	if err != nil {
		errf("connection setup: %v", err)
		return exitUsage
	}

	client := o.role == "client"
	wc := &wireConn{Conn: conn, obs: newObserver(!client)}
	// per-stream FIN/RST bookkeeping, for the readers that read after their own Close()
	wc.obs.trackStreams = o.scenario == "echo-client" || o.scenario == "source"
	if o.trace {
		wc.trace = os.Stderr
	}
	cfg := yamux.DefaultConfig()
	cfg.MaxStreamWindowSize = uint32(o.window)
	cfg.EnableKeepAlive = o.keepalive
	cfg.AcceptBacklog = o.backlog
	tap := &logTap{w: os.Stderr}
	if o.scenario == "bench-echo" {
		tap.w = ioutil.Discard
	}
	cfg.LogOutput = tap
	var sess *yamux.Session
	if client {
		sess, err = yamux.Client(wc, cfg)
	} else {
		sess, err = yamux.Server(wc, cfg)
	}
	if err != nil {
		errf("yamux setup: %v", err)
		return exitUsage
	}
	p := &peer{o: o, sess: sess, wc: wc, obs: wc.obs, tap: tap}
	switch o.scenario {
	case "echo":
		return p.echo(32 << 10)
	case "bench-echo":
		return p.echo(1 << 20)
	case "echo-client":
		return p.echoClient()
	case "sink":
		return p.sink()
	case "source":
		return p.source()
	case "ping":
		return p.ping()
	case "goaway":
		return p.goaway()
	case "reset":
		return p.reset()
	}
	return exitUsage // unreachable: validate() checked the name
}

func validate(o *options) error {
	if o.role != "client" && o.role != "server" {
		return fmt.Errorf("-role must be client or server")
	}
	n := 0
	for _, set := range []bool{o.connect != "", o.listen != "", o.fd >= 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("exactly one of -connect, -listen, -fd is required")
	}
	switch o.scenario {
	case "echo", "bench-echo", "echo-client", "sink", "source", "ping", "goaway", "reset":
	default:
		return fmt.Errorf("unknown -scenario %q", o.scenario)
	}
	if o.window < 262144 || o.window > 1<<31 {
		return fmt.Errorf("-window must be in [262144, 2^31]")
	}
	if o.backlog <= 0 || o.streams <= 0 || o.count <= 0 || o.chunk <= 0 || o.bytes < 0 {
		return fmt.Errorf("-backlog, -streams, -count, -chunk must be positive, -bytes non-negative")
	}
	if o.min < 0 || o.max < o.min {
		return fmt.Errorf("need 0 <= -min <= -max")
	}
	if o.resetMode != "raw" && o.resetMode != "close" {
		return fmt.Errorf("-reset-mode must be raw or close")
	}
	return nil
}

func splitAddr(a string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(a, "unix:"):
		return "unix", a[len("unix:"):], nil
	case strings.HasPrefix(a, "tcp:"):
		return "tcp", a[len("tcp:"):], nil
	}
	return "", "", fmt.Errorf("address %q: want unix:/path or tcp:HOST:PORT", a)
}

func getConn(o *options) (net.Conn, error) {
	switch {
	case o.fd >= 0:
		f := os.NewFile(uintptr(o.fd), fmt.Sprintf("fd%d", o.fd))
		if f == nil {
			return nil, fmt.Errorf("fd %d is not valid", o.fd)
		}
		c, err := net.FileConn(f) // dups the fd
		f.Close()
		return c, err
	case o.connect != "":
		network, addr, err := splitAddr(o.connect)
		if err != nil {
			return nil, err
		}
		return net.DialTimeout(network, addr, 10*time.Second)
	default:
		network, addr, err := splitAddr(o.listen)
		if err != nil {
			return nil, err
		}
		if network == "unix" {
			if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
				os.Remove(addr) // stale socket from an earlier run
			}
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		defer l.Close() // exactly one connection; for unix this also unlinks the path
		out("listening %s:%s", network, l.Addr().String())
		return l.Accept()
	}
}

type peer struct {
	o    options
	sess *yamux.Session
	wc   *wireConn
	obs  *observer
	tap  *logTap

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

// ---------- echo / bench-echo ----------

func (p *peer) echo(bufSize int) int {
	var streams, bytes, errs, done int64
	pool := sync.Pool{New: func() interface{} { return make([]byte, bufSize) }}
	quiet := p.o.scenario == "bench-echo"
	finished := make(chan struct{}, 1)
	p.watch(func(st *yamux.Stream) {
		atomic.AddInt64(&streams, 1)
		go func() {
			buf := pool.Get().([]byte)
			n, err := io.CopyBuffer(st, st, buf)
			pool.Put(buf)
			atomic.AddInt64(&bytes, n)
			if err != nil {
				atomic.AddInt64(&errs, 1)
				if !quiet {
					errf("stream %d: %v", st.StreamID(), err)
				}
			}
			st.Close()
			atomic.AddInt64(&done, 1)
			select {
			case finished <- struct{}{}:
			default:
			}
		}()
	})
	report := func() {
		out("done streams=%d bytes=%d errors=%d", atomic.LoadInt64(&streams),
			atomic.LoadInt64(&bytes), atomic.LoadInt64(&errs))
	}
	goAway := p.obs.goAwayCh
	draining := false
	for {
		select {
		case <-p.ended:
			report()
			return sessionResult(p.endErr)
		case <-goAway:
			goAway = nil
			// GoAway 1/2 end the session inside the library; 0 only means "no new streams".
			if code, _ := p.obs.goAway(); code == 0 {
				draining = true
				if !quiet {
					errf("peer sent GoAway(0); closing once its open streams are finished")
				}
			}
		case <-finished:
		case <-time.After(50 * time.Millisecond):
		}
		if draining && uint64(atomic.LoadInt64(&done)) >= p.obs.synCount() {
			p.sess.Close()
			report()
			return exitOK
		}
	}
}

// ---------- echo-client ----------

// splitmix64: a small, fast, seedable generator for sizes and payload bytes.
type prng struct{ s uint64 }

func (r *prng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *prng) fill(b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, r.next())
		b = b[8:]
	}
	if len(b) > 0 {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], r.next())
		copy(b, t[:])
	}
}

// readAfterLocalClose reads a stream to the peer's FIN into w, also after our own
// Close() (see the header comment: the 2019 library returns EOF early there).
func (p *peer) readAfterLocalClose(st *yamux.Stream, w io.Writer, bufSize int) (int64, error) {
	buf := make([]byte, bufSize)
	var got int64
	backoff := 20 * time.Microsecond
	for {
		n, err := st.Read(buf)
		if n > 0 {
			got += int64(n)
			w.Write(buf[:n])
			backoff = 20 * time.Microsecond
		}
		if err == nil {
			continue
		}
		if err != io.EOF {
			return got, err
		}
		ws, _ := p.obs.stream(st.StreamID())
		if ws.rst {
			return got, yamux.ErrConnectionReset
		}
		if ws.fin && uint64(got) >= ws.finBytes {
			return got, nil
		}
		if endErr, ended := p.sessionEndError(); ended {
			return got, fmt.Errorf("session ended before FIN: %v", endErr)
		}
		time.Sleep(backoff)
		if backoff < 2*time.Millisecond {
			backoff *= 2
		}
	}
}

type streamResult struct {
	idx        int
	id         uint32
	sent, recv int64
	sentSum    string
	recvSum    string
	err        error
}

func (p *peer) echoClient() int {
	p.watch(nil)
	results := make(chan streamResult, p.o.streams)
	var wg sync.WaitGroup
	for i := 0; i < p.o.streams; i++ {
		wg.Add(1)
		go func(idx int) {
			defer wg.Done()
			results <- p.echoOne(idx)
		}(i)
	}
	wg.Wait()
	close(results)
	var total int64
	failed := 0
	for r := range results {
		total += r.sent
		switch {
		case r.err != nil:
			failed++
			out("stream %d (id %d) error: %v (sent %d, received %d)", r.idx, r.id, r.err, r.sent, r.recv)
		case r.sentSum != r.recvSum || r.sent != r.recv:
			failed++
			out("mismatch stream %d (id %d): sent %d bytes sha256=%s, received %d bytes sha256=%s",
				r.idx, r.id, r.sent, r.sentSum, r.recv, r.recvSum)
		}
	}
	if failed > 0 {
		if err, ended := p.sessionEndError(); ended && !normalEnd(err) {
			return sessionResult(err)
		}
		out("failed streams=%d of %d", failed, p.o.streams)
		return exitFail
	}
	p.sess.Close()
	out("ok streams=%d bytes=%d", p.o.streams, total)
	return exitOK
}

func (p *peer) echoOne(idx int) streamResult {
	res := streamResult{idx: idx}
	mix := uint64(p.o.seed)*0x100000001b3 ^ uint64(idx+1)*0x9e3779b97f4a7c15
	sizes := prng{s: mix}
	data := prng{s: mix ^ 0xd1b54a32d192ed03}
	size := p.o.min
	if p.o.max > p.o.min {
		size += int64(sizes.next() % uint64(p.o.max-p.o.min+1))
	}
	st, err := p.sess.OpenStream()
	if err != nil {
		res.err = fmt.Errorf("open: %v", err)
		return res
	}
	res.id = st.StreamID()
	defer p.obs.forget(res.id)

	recvHash := sha256.New()
	recvDone := make(chan error, 1)
	go func() {
		n, err := p.readAfterLocalClose(st, recvHash, 64<<10)
		res.recv = n
		recvDone <- err
	}()

	sendHash := sha256.New()
	buf := make([]byte, p.o.chunk)
	var werr error
	for res.sent < size {
		n := int64(1 + sizes.next()%uint64(p.o.chunk))
		if n > size-res.sent {
			n = size - res.sent
		}
		b := buf[:n]
		data.fill(b)
		sendHash.Write(b)
		if _, werr = st.Write(b); werr != nil {
			werr = fmt.Errorf("write: %v", werr)
			break
		}
		res.sent += n
	}
	st.Close() // half-close: FIN
	rerr := <-recvDone
	res.sentSum = hex.EncodeToString(sendHash.Sum(nil))
	res.recvSum = hex.EncodeToString(recvHash.Sum(nil))
	if werr != nil {
		res.err = werr
	} else if rerr != nil {
		res.err = fmt.Errorf("read: %v", rerr)
	}
	return res
}

// ---------- sink / source ----------

func (p *peer) sink() int {
	var streams, total int64
	p.watch(func(st *yamux.Stream) {
		atomic.AddInt64(&streams, 1)
		go func() {
			n, err := io.CopyBuffer(ioutil.Discard, st, make([]byte, 64<<10))
			atomic.AddInt64(&total, n)
			if err != nil {
				errf("stream %d: read after %d bytes: %v", st.StreamID(), n, err)
				st.Close()
				return
			}
			var reply [8]byte
			binary.BigEndian.PutUint64(reply[:], uint64(n))
			if _, err := st.Write(reply[:]); err != nil {
				errf("stream %d: reply: %v", st.StreamID(), err)
			}
			st.Close()
		}()
	})
	<-p.ended
	if normalEnd(p.endErr) {
		out("done streams=%d bytes=%d", atomic.LoadInt64(&streams), atomic.LoadInt64(&total))
	}
	return sessionResult(p.endErr)
}

func (p *peer) source() int {
	p.watch(nil)
	errs := make(chan error, p.o.streams)
	var wg sync.WaitGroup
	for i := 0; i < p.o.streams; i++ {
		wg.Add(1)
		go func(idx int) {
			defer wg.Done()
			errs <- p.sourceOne(idx)
		}(i)
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			out("%v", err)
		}
	}
	if failed > 0 {
		if err, ended := p.sessionEndError(); ended && !normalEnd(err) {
			return sessionResult(err)
		}
		out("failed streams=%d of %d", failed, p.o.streams)
		return exitFail
	}
	p.sess.Close()
	out("ok streams=%d bytes=%d", p.o.streams, int64(p.o.streams)*p.o.bytes)
	return exitOK
}

func (p *peer) sourceOne(idx int) error {
	st, err := p.sess.OpenStream()
	if err != nil {
		return fmt.Errorf("stream %d: open: %v", idx, err)
	}
	id := st.StreamID()
	defer p.obs.forget(id)
	buf := make([]byte, 64<<10)
	(&prng{s: uint64(idx + 1)}).fill(buf)
	for left := p.o.bytes; left > 0; {
		n := int64(len(buf))
		if n > left {
			n = left
		}
		if _, err := st.Write(buf[:n]); err != nil {
			return fmt.Errorf("stream %d (id %d): write with %d bytes left: %v", idx, id, left, err)
		}
		left -= n
	}
	st.Close()
	var reply bytesBuf
	if _, err := p.readAfterLocalClose(st, &reply, 64); err != nil {
		return fmt.Errorf("stream %d (id %d): reply: %v", idx, id, err)
	}
	if len(reply) != 8 {
		return fmt.Errorf("stream %d (id %d): reply has %d bytes, want 8", idx, id, len(reply))
	}
	if got := binary.BigEndian.Uint64(reply); got != uint64(p.o.bytes) {
		return fmt.Errorf("stream %d (id %d): peer counted %d bytes, sent %d", idx, id, got, p.o.bytes)
	}
	return nil
}

type bytesBuf []byte

func (b *bytesBuf) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// ---------- ping / goaway / reset ----------

func (p *peer) ping() int {
	p.watch(nil)
	for i := 0; i < p.o.count; i++ {
		rtt, err := p.sess.Ping()
		if err != nil {
			if endErr, ended := p.sessionEndError(); ended && !normalEnd(endErr) {
				return sessionResult(endErr)
			}
			out("ping error: %v", err)
			return exitFail
		}
		out("rtt %d", rtt.Nanoseconds())
	}
	p.sess.Close()
	return exitOK
}

func (p *peer) goaway() int {
	// After a local GoAway the library answers every incoming SYN with RST itself;
	// a SYN that arrived before it is accepted here and reset (watch(nil)).
	p.watch(nil)
	if err := p.sess.GoAway(); err != nil {
		errf("GoAway: %v", err)
	}
	<-p.ended
	return sessionResult(p.endErr)
}

func (p *peer) reset() int {
	var taken int32
	resetDone := make(chan int, 1)
	p.watch(func(st *yamux.Stream) {
		if !atomic.CompareAndSwapInt32(&taken, 0, 1) {
			errf("unexpected stream %d after the first; resetting it", st.StreamID())
			p.reject(st)
			return
		}
		go func() { resetDone <- p.resetOne(st) }()
	})
	<-p.ended
	select {
	case rc := <-resetDone:
		if rc != exitOK {
			return rc
		}
	default:
		errf("session ended before a stream was reset")
		if normalEnd(p.endErr) {
			return exitFail
		}
	}
	return sessionResult(p.endErr)
}

func (p *peer) resetOne(st *yamux.Stream) int {
	var one [1]byte
	if _, err := io.ReadFull(st, one[:]); err != nil {
		errf("stream %d: reading 1 byte: %v", st.StreamID(), err)
		return exitFail
	}
	var err error
	if p.o.resetMode == "raw" {
		// The 2019 API has no way to reset a stream: write the frame the library itself
		// uses for RST (WindowUpdate, flags RST, length 0) between two of its frames.
		err = p.wc.inject(frameHeader{typ: typeWindow, flags: flagRST, id: st.StreamID()})
	} else {
		err = st.Close() // closest API behaviour: FIN
	}
	if err != nil {
		errf("reset stream %d: %v", st.StreamID(), err)
		return exitFail
	}
	out("reset stream=%d", st.StreamID())
	return exitOK
}
