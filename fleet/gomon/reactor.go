package main

// The reactor: one goroutine that runs the heartbeat wheel and does every open session's
// I/O on the generator's own epoll set, in rounds (pollInterval). At 10,000 monitors a
// response arrives every 100 µs; waking up for each (a context switch, and an
// inter-processor interrupt on a VM) cost more than handling it. A round takes whatever has
// arrived, so the wake-ups stay at a few hundred a second whatever the fleet's size, and a
// response's latency is still taken from the kernel's receive time (sock.go).

import (
	"syscall"
	"time"
)

// A round every 2 ms while there is traffic (at 10,000 monitors ~20 responses a round); after
// rounds that found nothing the wait doubles, up to the next slot of the wheel. A response
// read a round late is timed all the same (the kernel's receive time); its ACK leaves that
// much later, well within Central's 5 s.
const (
	pollInterval = 2 * time.Millisecond
	maxIdleShift = 3 // 16 ms: never later than the wheel's next slot anyway
)

type reactor struct {
	epfd    int
	events  [512]syscall.EpollEvent
	byFD    map[int32]*session
	buf     []byte
	closing []*session // aborted this round: closed and reported lost at its end
}

func newReactor() (*reactor, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &reactor{epfd: epfd, byFD: map[int32]*session{}, buf: make([]byte, 16<<10)}, nil
}

const readEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP

func (r *reactor) add(fd int) error {
	return syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd,
		&syscall.EpollEvent{Events: readEvents, Fd: int32(fd)})
}

func (r *reactor) watch(fd int, out bool) error {
	events := uint32(readEvents)
	if out {
		events |= syscall.EPOLLOUT
	}
	return syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_MOD, fd, &syscall.EpollEvent{Events: events, Fd: int32(fd)})
}

func (r *reactor) remove(fd int) {
	syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	delete(r.byFD, int32(fd))
}

// run is the reactor's loop: the wheel's due slots (each slot's lateness is one sample of the
// generator's own lag), the sockets that are ready, then a sleep until the next slot or the
// next round.
func (f *fleet) runReactor() {
	defer guard("the reactor")
	origin := time.Now()
	slot := func(i int64) time.Time { return origin.Add(time.Duration(i) * slotLength) }
	var index int64
	idle := uint(0)
	for {
		f.mu.Lock()
		if f.stopping {
			f.mu.Unlock()
			return
		}
		now := time.Now()
		for ; !slot(index).After(now); index++ {
			f.current.TickLag.add(now.Sub(slot(index)).Seconds())
			mono := monotonic()
			for _, c := range f.wheel[index%slots] {
				if s := c.session; s != nil {
					s.tick(mono)
				}
			}
			if f.sampling && index%25 == 0 {
				f.samples = append(f.samples, [2]int64{int64(wallClock() * 4), int64(f.authenticated)})
			}
		}
		sent := f.flushDirty()
		got := f.poll()
		sent += f.flushDirty()
		f.closeAborted()
		next := slot(index)
		f.mu.Unlock()
		if sent+got > 0 {
			idle = 0
		} else if idle < maxIdleShift {
			idle++
		}
		wait := time.Until(next)
		if wait > pollInterval<<idle {
			wait = pollInterval << idle
		}
		if wait > 0 {
			nap(wait)
		}
	}
}

// nap sleeps in a system call rather than on a Go timer: a goroutine parked on a timer left
// every processor idle a thousand times a second, and each time the runtime's monitor thread
// went into its long sleep and out of it again (~2 extra thread switches per round). In a
// system call the reactor's processor is not idle, the other one is (GOMAXPROCS is at least 2,
// main.go), so the monitor thread neither takes it back nor churns; and the kernel's timer
// wakes it within microseconds where Go's poller rounds to milliseconds.
func nap(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Nanosleep(&ts, nil) // EINTR: a shorter round
}

// poll handles the ready sockets (without waiting); it returns how many there were. It reads
// the ready list at most once per 512 open sockets (and once more): a socket that stays ready
// without being read (aborted this round, or a peer that keeps sending) must not keep the
// reactor, and with it the wheel and the command loop, in this round for ever.
func (f *fleet) poll() int {
	r := f.reactor
	ready := 0
	for rounds := len(r.byFD)/len(r.events) + 1; rounds > 0; rounds-- {
		n, err := syscall.EpollWait(r.epfd, r.events[:], 0)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			logf("WARNING", "epoll_wait: %v", err)
			return ready
		}
		ready += n
		for _, ev := range r.events[:n] {
			s := r.byFD[ev.Fd]
			if s == nil || s.closed || s.aborted {
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				if err := s.sock.writable(); err != nil {
					s.abort()
					continue
				}
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				s.sock.drained = false
				s.readReady(r.buf)
			}
		}
		if n < len(r.events) {
			return ready
		}
	}
	return ready
}

// flushDirty writes what the sessions have to send; it returns how many had something.
func (f *fleet) flushDirty() int {
	n := len(f.dirty)
	for i, s := range f.dirty {
		s.flush()
		f.dirty[i] = nil
	}
	f.dirty = f.dirty[:0]
	return n
}

func (f *fleet) closeAborted() {
	r := f.reactor
	for i, s := range r.closing {
		if !s.closed {
			s.sock.Close()
			s.lost()
		}
		r.closing[i] = nil
	}
	r.closing = r.closing[:0]
}
