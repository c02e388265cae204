package main

// Scenarios echo-client.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

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
