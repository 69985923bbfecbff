package main

// A monitor's socket. During the TLS handshake it is read and written through Go's network
// poller, one goroutine per connection, with the handshake's deadline (rawConn). Once the
// session is open, detach moves it to the generator's own epoll set (reactor.go): its
// descriptor is duplicated and the Go connection closed, so the runtime's poller no longer
// wakes up for it. From then on only the reactor touches it, under the fleet's lock: reads
// return errWouldBlock when the socket is empty (a temporary net.Error, which crypto/tls
// passes on without breaking the connection), writes never block (what the socket does not
// take is kept and sent when it is writable again), and every read carries the kernel's
// receive time (SO_TIMESTAMPNS), so a response's latency does not include the reactor's wait
// for its next round.

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

const maxPending = 1 << 20 // unsent bytes a peer that stopped reading may hold

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "socket empty" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

type sock struct {
	tcp     *net.TCPConn
	conn    net.Conn // rawConn over tcp: the handshake's reads and writes
	local   net.Addr
	remote  net.Addr
	fd      int // ours once detached, else -1
	r       *reactor
	pending []byte // not yet taken by the socket
	wantOut bool   // EPOLLOUT asked for
	drained bool   // the last read emptied the socket: wait for the next readiness
	closed  bool
	// the last read's kernel receive time, ns since the epoch (0: none)
	recvWall int64
	iov      syscall.Iovec
	msg      syscall.Msghdr
	oob      [64]byte
}

func newSock(c net.Conn) *sock {
	s := &sock{conn: newRawConn(c), local: c.LocalAddr(), remote: c.RemoteAddr(), fd: -1}
	s.tcp, _ = c.(*net.TCPConn)
	return s
}

// detach hands the socket over to the reactor (after the handshake).
func (s *sock) detach(r *reactor) error {
	if s.tcp == nil {
		return errors.New("not a TCP connection")
	}
	sc, err := s.tcp.SyscallConn()
	if err != nil {
		return err
	}
	dup, errno := -1, syscall.Errno(0)
	err = sc.Control(func(fd uintptr) {
		r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		dup, errno = int(r), e
	})
	if err == nil && errno != 0 {
		err = socketError("fcntl", errno)
	}
	if err != nil {
		return err
	}
	s.tcp.Close() // Go's poller forgets it; the connection lives on in dup (O_NONBLOCK shared)
	s.fd, s.r = dup, r
	syscall.SetsockoptInt(dup, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	s.iov.Base = nil
	s.msg.Iov = &s.iov
	s.msg.Iovlen = 1
	s.msg.Control = &s.oob[0]
	if err := r.add(dup); err != nil {
		syscall.Close(dup)
		s.fd = -1
		s.closed = true
		return err
	}
	return nil
}

func (s *sock) Read(p []byte) (int, error) {
	if s.fd < 0 {
		if s.closed {
			return 0, net.ErrClosed
		}
		return s.conn.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.drained {
		return 0, errWouldBlock
	}
	s.iov.Base = &p[0]
	s.iov.SetLen(len(p))
	s.msg.SetControllen(len(s.oob))
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msg)), 0)
		switch e {
		case 0:
			s.iov.Base = nil
			if n == 0 {
				return 0, io.EOF
			}
			s.recvWall = kernelTime(s.oob[:s.msg.Controllen])
			s.drained = int(n) < len(p)
			return int(n), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			s.iov.Base = nil
			s.drained = true
			return 0, errWouldBlock
		}
		s.iov.Base = nil
		return 0, socketError("read", e)
	}
}

// kernelTime is the SCM_TIMESTAMPNS of a control message buffer (ns since the epoch), or 0.
func kernelTime(oob []byte) int64 {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < syscall.SizeofCmsghdr || n > len(oob) {
			return 0
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS &&
			n >= syscall.SizeofCmsghdr+int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[syscall.SizeofCmsghdr]))
			return ts.Sec*1e9 + ts.Nsec
		}
		oob = oob[(n+7)&^7:]
	}
	return 0
}

func (s *sock) Write(p []byte) (int, error) {
	if s.fd < 0 {
		if s.closed {
			return 0, net.ErrClosed
		}
		return s.conn.Write(p)
	}
	if len(s.pending) > 0 {
		return s.queue(p, 0)
	}
	sent := 0
	for sent < len(p) {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(s.fd),
			uintptr(unsafe.Pointer(&p[sent])), uintptr(len(p)-sent), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			sent += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return s.queue(p, sent)
		default:
			return sent, socketError("write", e)
		}
	}
	return len(p), nil
}

// queue keeps p[sent:] until the socket is writable again.
func (s *sock) queue(p []byte, sent int) (int, error) {
	if len(s.pending)+len(p)-sent > maxPending {
		return sent, errors.New("Central reads nothing: over 1 MiB unsent")
	}
	s.pending = append(s.pending, p[sent:]...)
	if !s.wantOut {
		s.wantOut = true
		if err := s.r.watch(s.fd, true); err != nil {
			return sent, err
		}
	}
	return len(p), nil
}

// writable sends what was kept; the reactor calls it on EPOLLOUT.
func (s *sock) writable() error {
	for len(s.pending) > 0 {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(s.fd),
			uintptr(unsafe.Pointer(&s.pending[0])), uintptr(len(s.pending)), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			s.pending = s.pending[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return nil
		default:
			return socketError("write", e)
		}
	}
	s.pending = nil
	s.wantOut = false
	return s.r.watch(s.fd, false)
}

func (s *sock) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.fd < 0 {
		return s.conn.Close()
	}
	s.r.remove(s.fd)
	err := syscall.Close(s.fd)
	s.fd = -1
	return err
}

func (s *sock) LocalAddr() net.Addr  { return s.local }
func (s *sock) RemoteAddr() net.Addr { return s.remote }

func (s *sock) SetDeadline(t time.Time) error {
	if s.fd < 0 && !s.closed {
		return s.conn.SetDeadline(t)
	}
	return nil // the reactor's sockets never block
}

func (s *sock) SetReadDeadline(t time.Time) error {
	if s.fd < 0 && !s.closed {
		return s.conn.SetReadDeadline(t)
	}
	return nil
}

func (s *sock) SetWriteDeadline(t time.Time) error {
	if s.fd < 0 && !s.closed {
		return s.conn.SetWriteDeadline(t)
	}
	return nil
}
