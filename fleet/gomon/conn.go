package main

// A socket while its TLS handshake runs (sock.go): reads and writes are raw system calls on
// the non-blocking socket, and only a read that finds nothing waits in Go's network poller.
//
// Go's ordinary socket I/O tells the scheduler before each call that it may block; a call
// that lasts longer than ~20 µs (a loopback send, which runs the receiver's TCP stack in the
// sender's time, often does) then has its processor handed to another thread by the runtime's
// monitor thread, which keeps polling every 20 µs while that goes on. On one core shared with
// the broker that meant ~3.5 thread switches per heartbeat and a quarter of the generator's
// CPU in that monitor thread. These calls never block, so they need no hand-over.

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

type rawConn struct {
	*net.TCPConn
	sc syscall.RawConn
}

// newRawConn wraps a TCP connection; anything else is returned as it is.
func newRawConn(c net.Conn) net.Conn {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	sc, err := tcp.SyscallConn()
	if err != nil {
		return c
	}
	return &rawConn{TCPConn: tcp, sc: sc}
}

func socketError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.sc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // nothing yet: wait in the poller
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err // closed, or a deadline
	case errno != 0:
		return 0, socketError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawConn) Write(p []byte) (int, error) {
	written := 0
	var errno syscall.Errno
	err := c.sc.Write(func(fd uintptr) bool {
		for written < len(p) {
			r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
				uintptr(unsafe.Pointer(&p[written])), uintptr(len(p)-written),
				syscall.MSG_NOSIGNAL, 0, 0)
			switch e {
			case 0:
				written += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the socket's buffer is full: wait until it drains
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return written, err
	case errno != 0:
		return written, socketError("write", errno)
	}
	return written, nil
}
