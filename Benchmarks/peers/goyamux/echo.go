package main

// Scenarios echo / bench-echo.

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

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
