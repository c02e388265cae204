package main

// Scenarios sink / source.

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/ioutil"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/yamux"
)

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
