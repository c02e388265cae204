package main

// Scenarios netrpc-server / netrpc-client (go-plugin's net/rpc transport, a baseline).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/rpc"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

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
