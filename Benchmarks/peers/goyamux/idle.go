package main

// Scenarios idle-streams / idle-accept (memory per open stream).

import (
	"io/ioutil"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

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
