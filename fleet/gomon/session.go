package main

// One connection of one CP's monitor: PROTOCOL.md §1 as fleet/monitors.py's MonitorSession
// plays it. Every method is called with the fleet's lock held, by the reactor (reactor.go) or
// the command loop; bytes to send are appended to out and written at the end of the reactor's
// round (the sockets never block).

import (
	"net"
	"strings"
	"time"
)

const (
	stHandshake = iota // ENQ sent, no ACK yet
	stIdle
	stWait // a request is outstanding
)

const (
	kindNone = iota
	kindRegister
	kindAuth
	kindHeartbeat
)

var (
	ackByte  = []byte{ack}
	nackByte = []byte{nack}
	enqByte  = []byte{enq}
	eotByte  = []byte{eot}
)

type session struct {
	cp   *cp
	f    *fleet
	sock *sock    // the TCP connection (abort closes it)
	conn net.Conn // sock, or the TLS connection over it
	dec  decoder

	state      int
	since      float64 // monotonic: when the state last began waiting
	kind       int
	frame      []byte // the outstanding request, for a resend after NACK
	attempts   int
	receivedAt float64 // monotonic: when the bytes being handled were read

	hbDue       float64
	hbStats     *phaseStats // nil: no heartbeat outstanding
	queuedDue   float64
	queuedStats *phaseStats // nil: none queued behind the outstanding request

	authenticated bool
	counted       bool // counted in the fleet's live "authenticated" gauge
	stale         bool // opened before a Central restart (the storm)
	closed        bool // the reader ended: connection lost
	aborted       bool
	tls           bool

	out []byte // to send at the end of the reactor's round
}

// --- I/O ---------------------------------------------------------------------------------

// readReady reads what the socket holds (the reactor saw it readable) and handles it.
func (s *session) readReady(buf []byte) {
	for !s.closed && !s.aborted {
		n, err := s.conn.Read(buf)
		if n > 0 {
			// when the bytes reached this host's socket, before any wait or work of ours
			s.receivedAt = receivedAt(s.sock.recvWall)
			s.dec.feed(buf[:n], s)
		}
		if err != nil {
			if err != errWouldBlock { // crypto/tls returns it as it is
				s.abort() // closed by Central, reset, or TLS failed
			}
			return
		}
	}
}

// receivedAt turns a kernel receive time (ns since the epoch) into this process's
// monotonic clock; without one it is now.
func receivedAt(wallNs int64) float64 {
	now := monotonic()
	if wallNs == 0 {
		return now
	}
	delay := float64(time.Now().UnixNano()-wallNs) / 1e9
	if delay < 0 || delay > 10 {
		return now // not a receive time of this read (a clock step)
	}
	return now - delay
}

// flush writes what was appended to out.
func (s *session) flush() {
	if len(s.out) == 0 || s.closed || s.aborted {
		s.out = s.out[:0]
		return
	}
	_, err := s.conn.Write(s.out)
	s.out = s.out[:0]
	if err != nil {
		s.abort()
	}
}

// closePolitely sends EOT and closes (with TLS's close_notify), at the end of a run.
func (s *session) closePolitely() {
	if s.closed || s.aborted {
		return
	}
	s.flush()
	s.conn.Write(eotByte)
	s.conn.Close()
	s.sock.Close()
	s.lost()
}

// --- the protocol, under the fleet's lock ----------------------------------------------------

func (s *session) send(data []byte) {
	if !s.closed && !s.aborted {
		if len(s.out) == 0 {
			s.f.dirty = append(s.f.dirty, s)
		}
		s.out = append(s.out, data...)
	}
}

// abort closes the connection at the end of this round of the reactor (as asyncio's
// abort reports connection_lost later); what was not yet sent is dropped.
// abort ends the session at the end of this round; its socket leaves the epoll set at once,
// so its pending end-of-stream is not reported again and again meanwhile.
func (s *session) abort() {
	if !s.closed && !s.aborted {
		s.aborted = true
		if fd := s.sock.fd; fd >= 0 {
			s.f.reactor.remove(fd)
		}
		s.f.reactor.closing = append(s.f.reactor.closing, s)
	}
}

func (s *session) onEvent(ev event) bool {
	if s.closed || s.aborted || s.cp.silenced {
		return false
	}
	switch ev.kind {
	case evControl:
		s.onControl(ev.code)
	case evFrame:
		s.onFrame(ev.data)
	case evTooLarge:
		s.f.current.Errors++
		s.abort()
	default:
		s.send(nackByte)
	}
	return true
}

func (s *session) onControl(code byte) {
	f := s.f
	switch {
	case code == eot:
		s.abort()
	case s.state == stHandshake:
		if code == ack {
			s.state = stIdle
			f.current.Connects++
			s.nextStep()
		} else if code == nack {
			f.current.Refused++
			s.abort()
		}
	case s.state == stWait && s.attempts > 0:
		if code == ack {
			s.attempts = 0 // acknowledged; the response follows
		} else if code == nack {
			if s.attempts >= maxAttempts {
				f.current.Errors++
				s.abort()
			} else {
				s.attempts++
				s.send(s.frame)
			}
		}
	}
}

func (s *session) onFrame(data []byte) {
	s.send(ackByte)
	if s.state != stWait {
		return // nothing asked: ACKed and ignored
	}
	s.state = stIdle
	s.attempts = 0
	msg, err := parseResponse(data)
	if err != nil {
		s.f.current.Errors++
		msg = response{op: opError, reason: "unparsable response"}
	}
	kind := s.kind
	s.kind = kindNone
	switch kind {
	case kindHeartbeat:
		s.onHeartbeatAnswer(msg)
	case kindRegister:
		s.onRegisterAnswer(msg)
	case kindAuth:
		s.onAuthAnswer(msg)
	}
}

func (s *session) onHeartbeatAnswer(msg response) {
	if st := s.hbStats; st != nil {
		due := s.hbDue
		s.hbStats = nil
		if msg.op == opAlive {
			latency := s.receivedAt - due
			st.Latency.add(latency)
			if latency <= answerLimit {
				st.HbOk++
			} else {
				st.HbLate++
			}
		} else {
			st.HbLost++
			st.Errors++
		}
	}
	if st := s.queuedStats; st != nil {
		s.queuedStats = nil
		s.sendHeartbeat(s.queuedDue, st)
	}
}

func (s *session) onRegisterAnswer(msg response) {
	c, f := s.cp, s.f
	switch {
	case msg.op == opRegistered:
		c.credential = msg.credential
		c.hasCredential = true
		c.registeredAt = wallClock()
		f.gotKey(c, msg.key)
		f.current.Registered++
		s.nextStep()
	case msg.op == opRejected && strings.Contains(msg.reason, "already"):
		c.lockedOut = true // the credential was lost with a timed-out response
		f.current.LockedOut++
		s.abort()
	case msg.op == opError && c.useClaim && strings.Contains(msg.reason, "fields"):
		// A version-1 Central refuses REGISTER's extensions ("REGISTER takes 4 fields, got
		// 5"): register without them. Any other ERROR is retried as it is, after a back-off.
		c.useClaim = false
		f.claimSupported = false
		s.nextStep()
	case msg.op == opError:
		f.current.Errors++
		s.abort()
	default:
		f.current.RegisterRejected++
		s.abort()
	}
}

func (s *session) onAuthAnswer(msg response) {
	if msg.op == opAuthorized {
		s.f.gotKey(s.cp, msg.key)
		s.authenticated = true
		s.f.onAuth(s.cp, s)
	} else {
		s.f.current.AuthRejected++
		s.abort()
	}
}

func (s *session) nextStep() {
	c := s.cp
	if !c.hasCredential {
		claim, token := "", ""
		if c.useClaim && s.f.claimSupported {
			claim = c.claim
		}
		if claim != "" {
			token = c.token // the enrollment token travels with the claim
		}
		frame, _ := appendFrame(nil, registerData(c.id, "Fleet", c.x, c.y, claim, token))
		s.request(kindRegister, frame)
	} else {
		frame, _ := appendFrame(nil, authData(c.id, c.credential))
		s.request(kindAuth, frame)
	}
}

func (s *session) request(kind int, frame []byte) {
	s.kind, s.frame = kind, frame
	s.state = stWait
	s.attempts = 1
	s.since = monotonic()
	s.send(frame)
}

func (s *session) sendHeartbeat(due float64, st *phaseStats) {
	s.hbDue, s.hbStats = due, st
	s.cp.lastHbSent = wallClock()
	s.request(kindHeartbeat, s.cp.hbFrame)
}

// lost is asyncio's connection_lost: count what was outstanding, reconnect.
func (s *session) lost() {
	f, c := s.f, s.cp
	s.closed = true
	if s.hbStats != nil {
		s.hbStats.HbLost++
	}
	if s.queuedStats != nil {
		s.queuedStats.HbLost++
	}
	s.hbStats, s.queuedStats = nil, nil
	if s.state != stHandshake {
		f.current.Drops++
	}
	f.onDown(c, s)
	if c.session == s {
		c.session = nil
	}
	c.silenceWanted = false
	c.silenced = false
	if !f.stopping && !c.lockedOut {
		f.scheduleReconnect(c)
	}
}

// tick runs once a second at this CP's phase (the wheel).
func (s *session) tick(now float64) {
	f, c := s.f, s.cp
	if s.closed || s.aborted || c.silenced {
		return
	}
	if s.state != stIdle && now-s.since > f.responseTimeout {
		f.current.Timeouts++
		s.abort()
		return
	}
	if !s.authenticated {
		return
	}
	if c.silenceWanted && s.state == stIdle {
		c.silenced = true // from now on: socket open, not a byte sent
		c.silencedAt = c.lastHbSent
		f.silenced[c.id] = c.lastHbSent
		if c.up { // no longer "connected and heartbeating"
			c.intervals = append(c.intervals, [2]float64{c.upSince, wallClock()})
			c.up = false
		}
		return
	}
	st := f.current
	if s.stale {
		st = f.staleStats
	}
	st.HbDue++
	if s.state != stIdle {
		if s.queuedStats != nil {
			s.queuedStats.HbLost++ // a second tick behind: that one is missed
		}
		s.queuedDue, s.queuedStats = now, st
		return
	}
	s.sendHeartbeat(now, st)
}
