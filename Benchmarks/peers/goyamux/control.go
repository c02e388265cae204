package main

// Scenarios ping / goaway / reset.

import (
	"io"
	"sync/atomic"

	"github.com/hashicorp/yamux"
)

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
