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
	"flag"
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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
