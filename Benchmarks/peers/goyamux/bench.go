package main

// Scenarios churn-client / rtt-client (benchmarks).

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

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
