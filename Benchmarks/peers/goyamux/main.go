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
// Benchmark scenarios (for Tether's `bench --peer go`): on success stdout is exactly one line of
// key=value numbers (plus "listening ADDR" first when -listen is used); failures print a message
// instead of that line and exit 1 (or 2/3 as below).
//
//	churn-client -ops N (default 20000) operations spread over -parallel P workers (default 1) on one
//	             session; one operation = OpenStream, write 1 byte, Close (FIN), read until the echoed
//	             byte and the peer's FIN (readAfterLocalClose; the byte is compared). Peer: echo/bench-echo.
//	             "churn ops=N seconds=S ops_per_second=R peak_fds=F": F is the largest entry count of
//	             /proc/self/fd (sampled before op 0, every 256 ops and at the end; it includes the
//	             descriptor used to list the directory). S covers the N operations only.
//	rtt-client   one stream; min(1000, N/10) untimed warm-up round trips, then -count N (default 20000
//	             for this scenario; -count still defaults to 3 for ping) timed ones: write -size bytes
//	             (default 64; > 64 KiB are written concurrently with the read), read as many back and
//	             compare. "rtt count=N p50_us=X p99_us=Y ops_per_second=R": nearest-rank percentiles in
//	             microseconds (1 decimal), R = N / time of the timed round trips. Peer: echo/bench-echo.
//	idle-streams open -streams N streams, write nothing, keep them; when the peer has ACKed all N
//	             (an RST for any: "idle error: ...", exit 1) measure, print the line below, then hold.
//	             Opens are paced by the peer's ACKs: at most -backlog (default 256) are un-ACKed, so the
//	             peer must accept. Works in either yamux role. Peer: idle-accept (or echo, or Tether).
//	idle-accept  accept streams and keep them, never reading; when N=-streams are accepted measure,
//	             print the line below for this side, then hold. AcceptBacklog is raised to at least N,
//	             so an opener that does not wait for ACKs is never reset for backlog overflow. The
//	             session ending before N: "idle error: session ended after K of N streams", exit 1.
//	             Both print "idle streams=N heap_bytes_per_stream=H rss_bytes_per_stream=R fds=F" with
//	             H = (MemStats.HeapInuse now - before)/N and R = (VmRSS now - before)/N (rounded, may be
//	             negative in theory), each sample taken after runtime.GC() + debug.FreeOSMemory(), and
//	             F = entries in /proc/self/fd. "before" is sampled when the connection exists but the yamux
//	             session does not yet (so no stream objects; the session's fixed cost, which includes an
//	             AcceptBacklog-sized channel at 8 bytes per slot, is spread over the N streams).
//	             Hold: wait until the peer closes the connection, exit 0. With -hold D, close it ourselves
//	             after D instead (exit 0; used Go-to-Go, where both sides would wait). Reaching -timeout
//	             while holding also exits 0, with a note on stderr and no "timeout" line.
//	netrpc-server  go-plugin's net/rpc plugin side: accept streams, serve each with rpc.ServeConn
//	             (gob) on a registered service "Plugin" whose one method Echo(args []byte, reply *[]byte)
//	             copies args into reply. "done streams=N calls=C" at a normal end (exit 0).
//	netrpc-client  go-plugin's net/rpc host side, the baseline for Tether's RPC: ONE stream, one
//	             rpc.NewClient on it, every call multiplexed there by net/rpc's sequence numbers. First
//	             an untimed probe call of a missing method, which must fail with net/rpc's "can't find
//	             method" (a byte-echo peer would otherwise pass: see netrpcProbe); then min(1000, N/10)
//	             untimed warm-up calls and -count N (default 20000, as rtt-client) timed calls of
//	             Plugin.Echo with a -size S byte argument (default 64), spread over -parallel P
//	             goroutines (N/P each, the first N%P one more); every reply is compared with its
//	             argument. "netrpc calls=N parallel=P size=S calls_per_second=R p50_us=X p99_us=Y":
//	             R = N / wall time of the timed calls, X/Y nearest-rank percentiles of each call's
//	             latency (all goroutines together) in microseconds. Peer: netrpc-server.
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
//     readers that keep reading after their own half-close (echo-client, source, churn-client) watch
//     the inbound frames (wire.go) and stop only when the peer's FIN was seen and every Data byte that
//     came before it has been read; until then an EOF means "wait for the stream's next frame". That
//     wait is a wake-up from wire.go sent once the library has handled the frame, not a sleep: Go's
//     timers have ~1 ms granularity on Linux (time.Sleep(20µs) takes ~1.1 ms on the test VM), and the
//     earlier 20µs..2ms sleep-poll capped a sequential churn-client at ~2,600 ops/s (~10,000+ now).
//   - A stream whose FIN reaches the library before AcceptStream runs is never ACKed: the stream is
//     already in RemoteClose, so sendFlags() adds no ACK to anything sent later (in a Go-to-Go
//     churn-client run, 377 of 2,000 streams got an ACK). The opener then sees Data and FIN without an ACK;
//     the 2019 library copes (closeStream returns the SYN credit) but keeps that stream's entry in
//     its inflight map for the rest of the session. idle-streams counts ACKs, so it needs a peer that
//     accepts (ACKs) streams that are not closed.
//   - Session.Close() sends no GoAway. The session's end error is private: AcceptStream returns it,
//     but may return ErrSessionShutdown instead, and after a receive-window violation it can block
//     forever (readData returns with the stream's recvLock held). So the end is also detected through
//     CloseChan and the reason taken from the library's first "[ERR]" log line (logTap).
//   - Go-to-Go benchmark numbers swing by up to 2x on this 2-vCPU VM when anything else runs (e.g. a
//     Swift build); then the whole connection sometimes stalls > 20 ms because one process has no CPU.
//   - Streams a scenario does not expect are answered with an injected RST (not FIN, which would
//     leave a writing peer stuck on a window that is never reopened).
//
// Verified with go1.19.8 on the 2-vCPU VM by ./verify.sh (94 checks, ~19 s; the 76 before netrpc-*
// were also run 5 times in a row and once with a `go build -race` binary, 0 failed each time; the
// netrpc pairs below were run under -race too, with no race reported). What it runs, with
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
//	  churn-client -ops 3000 vs echo; the same with -parallel 16 vs bench-echo; rtt-client -count 2000
//	      vs bench-echo: exactly one stdout line of the documented form with the count pinned, rc 0;
//	      the echo side "done streams=3000 bytes=3000 errors=0" / "done streams=1 bytes=140800 errors=0"
//	  idle-streams -streams 10000 -hold 200ms vs idle-accept -streams 10000: both print the idle line,
//	      heap_bytes_per_stream in [200,4000] (Go: ~730), both rc 0
//	  netrpc-client -count 2000 -parallel 16 vs netrpc-server: one line of the documented form with
//	      calls, parallel and size pinned, rc 0; the server "done streams=1 calls=2200" (200 warm-up) rc 0
//	unix:
//	  churn-client with the defaults (-ops 20000) -parallel 16 vs echo; churn-client -role server vs
//	      echo -role client; rtt-client with the defaults (-count 20000 -size 64, echo side counts
//	      1344000 bytes) and -size 1048576 -count 50 vs bench-echo: rc 0, one line each
//	  netrpc-client -count 2000 with -parallel 1 and 16 x -size 64 and 65536, -count 2001 -parallel 16,
//	      and the defaults (-count 20000) -parallel 16 vs netrpc-server: one line each, calls pinned,
//	      rc 0; the server counts warm-up + timed calls (2200, 2201, 21000)
//	  netrpc-client vs echo: "netrpc error: peer is not a net/rpc server..." rc 1 (client -timeout 10s)
//	  idle-streams -role server -streams 100000 vs idle-accept -role client: both lines, rc 0 (~1 s)
//	  idle-accept -hold 200ms vs idle-streams (waits for the close): both rc 0; idle-accept -timeout 1s
//	      while holding: rc 0, no "timeout" line; idle-accept -streams 2000 vs 1000 opened: acceptor
//	      "idle error: session ended after 1000 of 2000" rc 1
//	  idle-streams / churn-client vs goaway: "idle error: open ..." or "...peer reset..." / "failed ops=100
//	      of 100", rc 1; churn-client -parallel 0: rc 4
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
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"net/rpc"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
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
	ops       int
	parallel  int
	size      int
	hold      time.Duration
	timeout   time.Duration
	resetMode string
	trace     bool
}

var stdoutMu sync.Mutex

// holding is set once an idle scenario has printed its line: reaching -timeout after
// that is the expected way out if nobody closes the connection (exit 0, no "timeout").
var holding int32

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
	fs.IntVar(&o.backlog, "backlog", 256, "AcceptBacklog (also bounds un-ACKed outbound streams); idle-accept uses at least -streams")
	fs.StringVar(&o.scenario, "scenario", "", "echo|echo-client|sink|source|ping|goaway|reset|bench-echo|"+
		"churn-client|rtt-client|idle-streams|idle-accept|netrpc-server|netrpc-client")
	fs.IntVar(&o.streams, "streams", 100, "echo-client/source: number of concurrent streams; idle-*: streams to hold")
	fs.Int64Var(&o.min, "min", 1<<20, "echo-client: minimum bytes per stream")
	fs.Int64Var(&o.max, "max", 4<<20, "echo-client: maximum bytes per stream")
	fs.IntVar(&o.chunk, "chunk", 64<<10, "echo-client: write sizes are random in [1,chunk]")
	fs.Int64Var(&o.seed, "seed", 1, "echo-client: PRNG seed (stream index mixed in)")
	fs.Int64Var(&o.bytes, "bytes", 4<<20, "source: bytes per stream")
	fs.IntVar(&o.count, "count", 3, "ping: number of pings (default 3); rtt-client: measured round trips, netrpc-client: measured calls (default 20000 for both)")
	fs.IntVar(&o.ops, "ops", 20000, "churn-client: number of open/write/close/read operations")
	fs.IntVar(&o.parallel, "parallel", 1, "churn-client: concurrent workers; netrpc-client: concurrent callers")
	fs.IntVar(&o.size, "size", 64, "rtt-client: bytes per round trip; netrpc-client: argument bytes per call")
	fs.DurationVar(&o.hold, "hold", 0, "idle-streams/idle-accept: after printing, close the connection after this long (0: wait for the peer to close it)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "print \"timeout\" and exit 3 after this long (0 = never)")
	fs.StringVar(&o.resetMode, "reset-mode", "raw", "reset: raw (inject a WindowUpdate|RST frame) or close (Stream.Close, FIN)")
	fs.BoolVar(&o.trace, "trace", false, "log every frame header in both directions to stderr")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	countSet := false
	fs.Visit(func(f *flag.Flag) { countSet = countSet || f.Name == "count" })
	if (o.scenario == "rtt-client" || o.scenario == "netrpc-client") && !countSet {
		o.count = 20000
	}
	if err := validate(&o); err != nil {
		errf("%v", err)
		return exitUsage
	}

	if o.timeout > 0 {
		time.AfterFunc(o.timeout, func() {
			if atomic.LoadInt32(&holding) == 1 {
				errf("-timeout %v reached while holding the idle streams; exiting", o.timeout)
				os.Exit(exitOK)
			}
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

	// idle-*: the memory baseline is taken before the session exists (no stream objects yet;
	// the session's fixed allocations, including an AcceptBacklog-sized channel, count as per-stream cost)
	var base memSample
	idle := o.scenario == "idle-streams" || o.scenario == "idle-accept"
	if idle {
		base = sampleMem()
	}

	client := o.role == "client"
	wc := &wireConn{Conn: conn, obs: newObserver(!client)}
	// per-stream FIN/RST bookkeeping, for the readers that read after their own Close()
	wc.obs.trackStreams = o.scenario == "echo-client" || o.scenario == "source" || o.scenario == "churn-client"
	if o.trace {
		wc.trace = os.Stderr
	}
	cfg := yamux.DefaultConfig()
	cfg.MaxStreamWindowSize = uint32(o.window)
	cfg.EnableKeepAlive = o.keepalive
	cfg.AcceptBacklog = o.backlog
	if o.scenario == "idle-accept" && cfg.AcceptBacklog < o.streams {
		// a peer that does not pace its opens by our ACKs must not overflow the accept queue (RST)
		cfg.AcceptBacklog = o.streams
	}
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
	p := &peer{o: o, sess: sess, wc: wc, obs: wc.obs, tap: tap, base: base}
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
	case "churn-client":
		return p.churnClient()
	case "rtt-client":
		return p.rttClient()
	case "netrpc-server":
		return p.netrpcServer()
	case "netrpc-client":
		return p.netrpcClient()
	case "idle-streams":
		return p.idleStreams()
	case "idle-accept":
		return p.idleAccept()
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
	case "echo", "bench-echo", "echo-client", "sink", "source", "ping", "goaway", "reset",
		"churn-client", "rtt-client", "idle-streams", "idle-accept", "netrpc-server", "netrpc-client":
	default:
		return fmt.Errorf("unknown -scenario %q", o.scenario)
	}
	if o.window < 262144 || o.window > 1<<31 {
		return fmt.Errorf("-window must be in [262144, 2^31]")
	}
	if o.backlog <= 0 || o.streams <= 0 || o.count <= 0 || o.chunk <= 0 || o.bytes < 0 {
		return fmt.Errorf("-backlog, -streams, -count, -chunk must be positive, -bytes non-negative")
	}
	if o.ops <= 0 || o.parallel <= 0 || o.size <= 0 || o.hold < 0 {
		return fmt.Errorf("-ops, -parallel, -size must be positive, -hold non-negative")
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
			// counted per write: a peer may close the session right after reading its last
			// echo (rtt-client), before this copy returns and before report() runs
			_, err := io.CopyBuffer(countingWriter{st, &bytes}, st, buf)
			pool.Put(buf)
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

type countingWriter struct {
	w io.Writer
	n *int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	atomic.AddInt64(c.n, int64(n))
	return n, err
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

var lateWakeups int64 // readAfterLocalClose waits that ended by the safety timer

// readAfterLocalClose reads a stream to the peer's FIN into w, also after our own
// Close() (see the header comment: the 2019 library returns EOF early there). It must
// see every byte of the stream (it compares its count with the wire's), so call it
// before anything else reads st.
//
// Between EOFs it does not sleep-poll: Go's timers on Linux have ~1 ms granularity
// (time.Sleep(20µs) takes ~1.1 ms on the test VM), which capped a sequential stream
// open/close loop at ~2,600 ops/s. It waits for the observer's per-stream wake-up
// instead, sent once the library has handled the stream's newer frames (see delivered).
func (p *peer) readAfterLocalClose(st *yamux.Stream, w io.Writer, bufSize int) (int64, error) {
	id := st.StreamID()
	notify := p.obs.notifier(id)
	buf := make([]byte, bufSize)
	var got int64
	for {
		n, err := st.Read(buf)
		if n > 0 {
			got += int64(n)
			w.Write(buf[:n])
		}
		if err == nil {
			continue
		}
		if err != io.EOF {
			return got, err
		}
		ws, _ := p.obs.stream(id)
		if ws.rst {
			return got, yamux.ErrConnectionReset
		}
		if ws.fin && uint64(got) >= ws.finBytes {
			return got, nil
		}
		if endErr, ended := p.sessionEndError(); ended {
			return got, fmt.Errorf("session ended before FIN: %v", endErr)
		}
		select {
		case <-notify:
		case <-p.ended:
		case <-time.After(20 * time.Millisecond):
			// safety net only: a missed wake-up would show here (and in -trace timing)
			atomic.AddInt64(&lateWakeups, 1)
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

// ---------- churn-client / rtt-client (benchmarks) ----------

// countFDs returns the number of entries in /proc/self/fd (the descriptor used to
// list the directory is one of them), or -1 if it cannot be read.
func countFDs() int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return -1
	}
	return len(names)
}

func (p *peer) churnClient() int {
	p.watch(nil)
	var next int64 = -1
	var failed int64
	peak := int64(countFDs())
	var errMu sync.Mutex
	var firstErrs []string
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < p.o.parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(p.o.ops) {
					return
				}
				if i%256 == 0 {
					for f := int64(countFDs()); ; {
						cur := atomic.LoadInt64(&peak)
						if f <= cur || atomic.CompareAndSwapInt64(&peak, cur, f) {
							break
						}
					}
				}
				if err := p.churnOne(i); err != nil {
					atomic.AddInt64(&failed, 1)
					errMu.Lock()
					if len(firstErrs) < 10 {
						firstErrs = append(firstErrs, fmt.Sprintf("op %d: %v", i, err))
					}
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if n := atomic.LoadInt64(&lateWakeups); n > 0 {
		errf("%d reads waited for the 20 ms safety timer instead of a wake-up", n)
	}
	if f := int64(countFDs()); f > peak {
		peak = f
	}
	if failed > 0 {
		for _, e := range firstErrs {
			out("%s", e)
		}
		if err, ended := p.sessionEndError(); ended && !normalEnd(err) {
			return sessionResult(err)
		}
		out("failed ops=%d of %d", failed, p.o.ops)
		return exitFail
	}
	p.sess.Close()
	out("churn ops=%d seconds=%.6f ops_per_second=%.1f peak_fds=%d",
		p.o.ops, elapsed, float64(p.o.ops)/elapsed, peak)
	return exitOK
}

// churnOne: OpenStream, write 1 byte, Close (FIN), read the echoed byte and the peer's FIN.
func (p *peer) churnOne(i int64) error {
	st, err := p.sess.OpenStream()
	if err != nil {
		return fmt.Errorf("open: %v", err)
	}
	id := st.StreamID()
	defer p.obs.forget(id)
	b := [1]byte{byte(i)}
	if _, err := st.Write(b[:]); err != nil {
		return fmt.Errorf("stream %d: write: %v", id, err)
	}
	st.Close()
	var got bytesBuf
	if _, err := p.readAfterLocalClose(st, &got, 16); err != nil {
		return fmt.Errorf("stream %d: read: %v", id, err)
	}
	if len(got) != 1 || got[0] != b[0] {
		return fmt.Errorf("stream %d: sent %x, echoed %x", id, b[:], []byte(got))
	}
	return nil
}

func (p *peer) rttClient() int {
	p.watch(nil)
	st, err := p.sess.OpenStream()
	if err != nil {
		out("rtt error: open: %v", err)
		return exitFail
	}
	msg := make([]byte, p.o.size)
	(&prng{s: uint64(p.o.seed)}).fill(msg)
	reply := make([]byte, p.o.size)
	warm := warmUpCount(p.o.count)
	lat := make([]time.Duration, 0, p.o.count)
	var start time.Time
	for i := 0; i < warm+p.o.count; i++ {
		if i == warm {
			start = time.Now()
		}
		msg[0] = byte(i) // a stale or reordered echo cannot match
		t0 := time.Now()
		if err := p.roundTrip(st, msg, reply); err != nil {
			if endErr, ended := p.sessionEndError(); ended && !normalEnd(endErr) {
				return sessionResult(endErr)
			}
			out("rtt error: round trip %d: %v", i, err)
			return exitFail
		}
		if i >= warm {
			lat = append(lat, time.Since(t0))
		}
	}
	elapsed := time.Since(start).Seconds()
	// Half-close and let the peer finish (its FIN removes the stream from the session)
	// before closing: in the 2019 library a Write whose frame was sent can still fail with
	// ErrSessionShutdown if the session ends meanwhile (waitForSendErr selects on both),
	// so an echo peer would count its last echo as an error.
	st.Close()
	p.waitStreamsDone()
	p.sess.Close()
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	out("rtt count=%d p50_us=%.1f p99_us=%.1f ops_per_second=%.1f",
		p.o.count, percentileUs(lat, 0.50), percentileUs(lat, 0.99), float64(p.o.count)/elapsed)
	return exitOK
}

// percentileUs: nearest-rank percentile q of sorted (non-empty) latencies, in microseconds.
func percentileUs(sorted []time.Duration, q float64) float64 {
	k := int(q*float64(len(sorted))+0.999999) - 1
	if k < 0 {
		k = 0
	}
	return float64(sorted[k].Nanoseconds()) / 1e3
}

// warmUpCount: the untimed warm-up before a latency benchmark, min(1000, N/10).
func warmUpCount(n int) int {
	if n/10 < 1000 {
		return n / 10
	}
	return 1000
}

// waitStreamsDone waits (at most 5 s) until every stream has been closed by both sides,
// or the session has ended.
func (p *peer) waitStreamsDone() {
	for deadline := time.Now().Add(5 * time.Second); p.sess.NumStreams() > 0; {
		if _, ended := p.sessionEndError(); ended || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// roundTrip writes msg and reads len(msg) bytes back into reply. Messages larger than
// a window are written concurrently with the read (the echo peer stops reading while
// its own writes wait for our window, so write-then-read would deadlock).
func (p *peer) roundTrip(st *yamux.Stream, msg, reply []byte) error {
	var werr chan error
	if len(msg) <= 64<<10 {
		if _, err := st.Write(msg); err != nil {
			return fmt.Errorf("write: %v", err)
		}
	} else {
		werr = make(chan error, 1)
		go func() { _, err := st.Write(msg); werr <- err }()
	}
	if _, err := io.ReadFull(st, reply); err != nil {
		return fmt.Errorf("read: %v", err)
	}
	if werr != nil {
		if err := <-werr; err != nil {
			return fmt.Errorf("write: %v", err)
		}
	}
	if !bytes.Equal(msg, reply) {
		return fmt.Errorf("echo differs from what was sent")
	}
	return nil
}

// ---------- netrpc-server / netrpc-client (go-plugin's net/rpc transport, a baseline) ----------

// pluginRPC is the receiver a go-plugin net/rpc plugin registers. One trivial method, so
// what is measured is the transport (net/rpc + gob over one yamux stream), not plugin work.
type pluginRPC struct{ calls *int64 }

// Echo copies args into reply.
func (r pluginRPC) Echo(args []byte, reply *[]byte) error {
	atomic.AddInt64(r.calls, 1)
	*reply = append([]byte(nil), args...)
	return nil
}

// netrpcServer is the plugin side: every stream the host opens is served by rpc.ServeConn,
// which returns (closing the stream) when the host closes its end.
func (p *peer) netrpcServer() int {
	var streams, calls int64
	srv := rpc.NewServer()
	if err := srv.RegisterName("Plugin", pluginRPC{calls: &calls}); err != nil {
		errf("rpc register: %v", err)
		return exitUsage
	}
	p.watch(func(st *yamux.Stream) {
		atomic.AddInt64(&streams, 1)
		go srv.ServeConn(st)
	})
	<-p.ended
	if normalEnd(p.endErr) {
		out("done streams=%d calls=%d", atomic.LoadInt64(&streams), atomic.LoadInt64(&calls))
	}
	return sessionResult(p.endErr)
}

// netrpcClient is the host side as go-plugin does it: one stream, one rpc.Client (gob),
// every call multiplexed on it by sequence number.
func (p *peer) netrpcClient() int {
	p.watch(nil)
	st, err := p.sess.OpenStream()
	if err != nil {
		out("netrpc error: open: %v", err)
		return exitFail
	}
	c := rpc.NewClient(st)
	fail := func(err error) int {
		c.Close()
		if endErr, ended := p.sessionEndError(); ended && !normalEnd(endErr) {
			return sessionResult(endErr)
		}
		out("netrpc error: %v", err)
		return exitFail
	}
	if err := netrpcProbe(c); err != nil {
		return fail(err)
	}
	if _, _, err := p.netrpcCalls(c, warmUpCount(p.o.count)); err != nil {
		return fail(fmt.Errorf("warm-up: %v", err))
	}
	lat, elapsed, err := p.netrpcCalls(c, p.o.count)
	if err != nil {
		return fail(err)
	}
	c.Close() // closes the stream (FIN); the server's ServeConn then closes its end
	p.waitStreamsDone()
	p.sess.Close()
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	out("netrpc calls=%d parallel=%d size=%d calls_per_second=%.1f p50_us=%.1f p99_us=%.1f",
		p.o.count, p.o.parallel, p.o.size, float64(p.o.count)/elapsed.Seconds(),
		percentileUs(lat, 0.50), percentileUs(lat, 0.99))
	return exitOK
}

// netrpcProbe checks that a net/rpc server answers. Echo replies alone cannot tell: from a
// byte-echo peer the client reads back its own gob Request, which decodes as a Response
// (gob matches fields by name; Request's are a subset) with the right sequence number and
// no error, followed by its own argument as the reply, so every Echo call would pass.
// A real server answers a method it does not have with a ServerError.
func netrpcProbe(c *rpc.Client) error {
	var reply []byte
	err := c.Call("Plugin.NoSuchMethod", []byte{0}, &reply)
	if _, ok := err.(rpc.ServerError); ok && strings.Contains(err.Error(), "can't find method") {
		return nil
	}
	if err == nil {
		return errors.New("peer is not a net/rpc server: a call of a method it cannot have succeeded (echoed?)")
	}
	return fmt.Errorf("probe call: %v", err)
}

// netrpcCalls makes n Plugin.Echo calls spread over -parallel goroutines (n/P each, the
// first n%P one more, so exactly n) and returns every call's latency and the wall time.
// A goroutine stops at its first failure (after one, the rpc.Client is usually shut down
// and every later call would fail the same way); the first failure is returned.
func (p *peer) netrpcCalls(c *rpc.Client, n int) ([]time.Duration, time.Duration, error) {
	P := p.o.parallel
	lats := make([][]time.Duration, P)
	errs := make([]error, P)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < P; w++ {
		k := n / P
		if w < n%P {
			k++
		}
		wg.Add(1)
		go func(w, k int) {
			defer wg.Done()
			lats[w], errs[w] = p.netrpcWorker(c, w, k)
		}(w, k)
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := make([]time.Duration, 0, n)
	for w := 0; w < P; w++ {
		if errs[w] != nil {
			return nil, 0, errs[w]
		}
		all = append(all, lats[w]...)
	}
	return all, elapsed, nil
}

// netrpcWorker makes k sequential calls with -size bytes of seeded random argument, each
// stamped with (worker, call) in its first bytes so a reply to some other call cannot match.
func (p *peer) netrpcWorker(c *rpc.Client, w, k int) ([]time.Duration, error) {
	args := make([]byte, p.o.size)
	(&prng{s: uint64(p.o.seed) ^ uint64(w+1)*0x9e3779b97f4a7c15}).fill(args)
	lat := make([]time.Duration, 0, k)
	var stamp [8]byte
	for i := 0; i < k; i++ {
		binary.BigEndian.PutUint64(stamp[:], uint64(w)<<32|uint64(i))
		if len(args) >= 8 {
			copy(args, stamp[:])
		} else {
			copy(args, stamp[8-len(args):]) // the low bytes: still distinct for neighbouring calls
		}
		var reply []byte
		t0 := time.Now()
		if err := c.Call("Plugin.Echo", args, &reply); err != nil {
			return nil, fmt.Errorf("worker %d call %d: %v", w, i, err)
		}
		lat = append(lat, time.Since(t0))
		if !bytes.Equal(reply, args) {
			return nil, fmt.Errorf("worker %d call %d: reply (%d bytes) differs from the argument (%d bytes)",
				w, i, len(reply), len(args))
		}
	}
	return lat, nil
}

// ---------- idle-streams / idle-accept (memory per open stream) ----------

type memSample struct{ heap, rss int64 }

// sampleMem forces a collection, returns freed memory to the OS, then reads
// MemStats.HeapInuse and VmRSS.
func sampleMem() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: int64(ms.HeapInuse), rss: vmRSS()}
}

// vmRSS: VmRSS from /proc/self/status in bytes, -1 if unavailable.
func vmRSS() int64 {
	b, err := ioutil.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line[len("VmRSS:"):]) // "12345 kB"
			if len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	return -1
}

func (p *peer) idleReport(n int) {
	now := sampleMem()
	per := func(after, before int64) int64 {
		d := float64(after-before) / float64(n)
		if d < 0 {
			return int64(d - 0.5)
		}
		return int64(d + 0.5)
	}
	out("idle streams=%d heap_bytes_per_stream=%d rss_bytes_per_stream=%d fds=%d",
		n, per(now.heap, p.base.heap), per(now.rss, p.base.rss), countFDs())
}

// idleHold keeps the streams until the peer closes the connection (or -hold passes,
// then we close it; or -timeout passes: exit 0 as well, see holding).
func (p *peer) idleHold() int {
	atomic.StoreInt32(&holding, 1)
	if p.o.hold > 0 {
		select {
		case <-p.ended:
		case <-time.After(p.o.hold):
			p.sess.Close()
			return exitOK
		}
	}
	<-p.ended
	return sessionResult(p.endErr)
}

func (p *peer) idleStreams() int {
	p.watch(nil)
	n := p.o.streams
	streams := make([]*yamux.Stream, 0, n)
	fail := func(format string, a ...interface{}) int {
		if err, ended := p.sessionEndError(); ended && !normalEnd(err) {
			return sessionResult(err)
		}
		out("idle error: "+format, a...)
		return exitFail
	}
	for i := 0; i < n; i++ {
		// blocks while -backlog opens are un-ACKed: the peer must accept
		st, err := p.sess.OpenStream()
		if err != nil {
			return fail("open %d of %d: %v", i+1, n, err)
		}
		streams = append(streams, st)
	}
	// Measure once the peer has accepted (ACKed) every stream.
	for {
		acks, rsts := p.obs.ourStreamReplies()
		if rsts > 0 {
			return fail("peer reset %d of the %d streams", rsts, n)
		}
		if acks >= uint64(n) {
			break
		}
		if _, ended := p.sessionEndError(); ended {
			return fail("session ended with %d of %d streams acknowledged", acks, n)
		}
		time.Sleep(time.Millisecond)
	}
	p.idleReport(n)
	rc := p.idleHold()
	runtime.KeepAlive(streams)
	return rc
}

func (p *peer) idleAccept() int {
	n := p.o.streams
	var mu sync.Mutex
	streams := make([]*yamux.Stream, 0, n)
	reached := make(chan struct{})
	p.watch(func(st *yamux.Stream) {
		mu.Lock()
		streams = append(streams, st) // kept, never read
		if len(streams) == n {
			close(reached)
		}
		mu.Unlock()
	})
	select {
	case <-reached:
	case <-p.ended:
		select {
		case <-reached:
		default:
			mu.Lock()
			k := len(streams)
			mu.Unlock()
			if !normalEnd(p.endErr) {
				return sessionResult(p.endErr)
			}
			out("idle error: session ended after %d of %d streams", k, n)
			return exitFail
		}
	}
	p.idleReport(n)
	rc := p.idleHold()
	mu.Lock()
	runtime.KeepAlive(streams)
	mu.Unlock()
	return rc
}
