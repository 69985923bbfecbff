package main

// Vectors shared with the Python side: the same bytes as wire.framing / wire.tcp_messages,
// the same histogram buckets as fleet.stats.Histogram.

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"
)

func TestFrameAndLRCAsWireFraming(t *testing.T) {
	frame, err := appendFrame(nil, []byte("HEARTBEAT#FL00001#OK"))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(frame); got != "0248454152544245415423464c3030303031234f4b0367" {
		t.Fatalf("frame %s", got)
	}
	if _, err := appendFrame(nil, bytes.Repeat([]byte("x"), maxData+1)); err != errTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := appendFrame(nil, []byte{'a', etx}); err != errDelimiter {
		t.Fatalf("ETX inside: %v", err)
	}
}

type collected struct{ events []event }

func (c *collected) onEvent(ev event) bool {
	ev.data = append([]byte(nil), ev.data...)
	c.events = append(c.events, ev)
	return true
}

func TestDecoderSplitPackedAndBadInput(t *testing.T) {
	a, _ := appendFrame(nil, []byte("ALIVE#FL1#ACTIVE"))
	b, _ := appendFrame(nil, []byte("ERROR#x"))
	stream := append(append(append([]byte{ack}, a...), nack), b...)
	for split := 0; split <= len(stream); split++ { // every split point of one stream
		var d decoder
		var got collected
		d.feed(stream[:split], &got)
		d.feed(stream[split:], &got)
		if len(got.events) != 4 || got.events[0].code != ack || got.events[2].code != nack ||
			string(got.events[1].data) != "ALIVE#FL1#ACTIVE" || string(got.events[3].data) != "ERROR#x" {
			t.Fatalf("split at %d: %+v", split, got.events)
		}
	}
	bad := append([]byte{stx}, []byte("ALIVE#FL1#ACTIVE")...)
	bad = append(bad, etx, 0x00)                    // wrong LRC
	bad = append(bad, 'z')                          // a byte outside a frame
	bad = append(bad, stx, 'a', stx, 'b', etx, 'b') // STX inside a frame, then a good one
	var d decoder
	var got collected
	d.feed(bad, &got)
	kinds := []eventKind{}
	for _, ev := range got.events {
		kinds = append(kinds, ev.kind)
	}
	want := []eventKind{evBad, evBad, evBad, evFrame}
	if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] || kinds[3] != want[3] {
		t.Fatalf("kinds %v", kinds)
	}
	if string(got.events[3].data) != "b" {
		t.Fatalf("after STX inside: %q", got.events[3].data)
	}
}

func TestDecoderSkipsAFrameOverTheLimit(t *testing.T) {
	huge := append([]byte{stx}, bytes.Repeat([]byte("x"), maxData+10)...)
	huge = append(huge, etx, 0x42, ack) // the LRC after ETX is skipped whatever its value
	var d decoder
	var got collected
	d.feed(huge, &got)
	if len(got.events) != 2 || got.events[0].kind != evTooLarge || got.events[1].code != ack {
		t.Fatalf("%+v", got.events)
	}
}

func TestRegisterLeavesEmptyTrailingExtensionsOut(t *testing.T) {
	cases := map[[2]string]string{
		{"", ""}:      "REGISTER#FL00001#Fleet#123.456#500",
		{"cl", ""}:    "REGISTER#FL00001#Fleet#123.456#500#cl",
		{"", "tok"}:   "REGISTER#FL00001#Fleet#123.456#500##tok",
		{"cl", "tok"}: "REGISTER#FL00001#Fleet#123.456#500#cl#tok",
	}
	for in, want := range cases {
		got := string(registerData("FL00001", "Fleet", 123.456, 500, in[0], in[1]))
		if got != want {
			t.Errorf("%v: %s, want %s", in, got, want)
		}
	}
}

func TestResponsesAreCheckedAsPythonChecksThem(t *testing.T) {
	good := map[string]opcode{
		"ALIVE#FL1#ACTIVE":                opAlive,
		"REGISTERED#FL1#cred#0.35":        opRegistered,
		"REGISTERED#FL1#cred#0.35#key":    opRegistered,
		"AUTHORIZED#FL1#0.35#STOPPED":     opAuthorized,
		"REJECTED#FL1#already registered": opRejected,
		"ERROR#REGISTER takes 6 fields":   opError,
		"NOTED#FL1#FAULT":                 opNoted,
	}
	for text, op := range good {
		r, err := parseResponse([]byte(text))
		if err != nil || r.op != op {
			t.Errorf("%s: %v %v", text, r, err)
		}
	}
	r, _ := parseResponse([]byte("REGISTERED#FL1#cred#0.35#key"))
	if r.credential != "cred" || r.key != "key" {
		t.Errorf("%+v", r)
	}
	for _, text := range []string{
		"ALIVE#FL1", "ALIVE#FL1#MAYBE", "ALIVE#FL1#ACTIVE#x", "REGISTERED#FL1##0.35",
		"REGISTERED#FL1#c#nan", "REGISTERED#FL1#c#1e999", "HELLO#x", "ERROR#\x01", "ALIVE#\xff#ACTIVE",
	} {
		if _, err := parseResponse([]byte(text)); err == nil {
			t.Errorf("%q parsed", text)
		}
	}
}

func TestHistogramBucketsAsFleetStats(t *testing.T) {
	// int(math.log(max(s * 1e6, 1)) / math.log(1.03)) in Python
	want := map[float64]int{0: 0, 1e-6: 0, 0.0005: 210, 0.0027: 267, 0.061: 372, 1: 467, 2.5: 498, 100: 623}
	for seconds, index := range want {
		var h histogram
		h.add(seconds)
		if h.buckets[index] != 1 {
			t.Errorf("%g s not in bucket %d", seconds, index)
		}
	}
}

func TestADetachedSocketReadsWithTheKernelsReceiveTime(t *testing.T) {
	listener := listen(t)
	defer listener.Close()
	client, server := connectedPair(t, listener)
	defer server.Close()
	r, err := newReactor()
	if err != nil {
		t.Fatal(err)
	}
	s := newSock(client)
	if err := s.detach(r); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(50 * time.Millisecond) // the kernel turns receive time-stamping on in a work item
	buf := make([]byte, 64)
	if _, err := s.Read(buf); err != errWouldBlock {
		t.Fatalf("empty socket: %v", err)
	}
	sent := time.Now()
	server.Write([]byte("ALIVE"))
	time.Sleep(30 * time.Millisecond)
	s.drained = false // the reactor does this when epoll says readable
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "ALIVE" {
		t.Fatalf("%q %v", buf[:n], err)
	}
	delay := time.Duration(time.Now().UnixNano() - s.recvWall)
	if s.recvWall == 0 || delay < 25*time.Millisecond || time.Unix(0, s.recvWall).Before(sent.Add(-time.Millisecond)) {
		t.Fatalf("receive time %d: %v before the read", s.recvWall, delay)
	}
	if n, err := s.Write([]byte("ACK")); n != 3 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	got := make([]byte, 8)
	server.SetReadDeadline(time.Now().Add(time.Second))
	if n, _ := server.Read(got); string(got[:n]) != "ACK" {
		t.Fatalf("server read %q", got[:n])
	}
	server.Close()
	time.Sleep(10 * time.Millisecond)
	s.drained = false
	if _, err := s.Read(buf); err != io.EOF {
		t.Fatalf("after the peer closed: %v", err)
	}
}

func TestAliveIsParsedWithoutTheGeneralPath(t *testing.T) {
	if r, err := parseResponse([]byte("ALIVE#FL00001#STOPPED")); err != nil || r.op != opAlive {
		t.Fatal(r, err)
	}
	for _, bad := range []string{"ALIVE##ACTIVE", "ALIVE#FL1#", "ALIVE#FL1#ACTIVE#", "ALIVE#F\x01#ACTIVE"} {
		if _, err := parseResponse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The storm's hang: Central killed, every socket at end-of-stream at once. The reactor's poll
// read the ready list again while it came back full, and the sessions it had aborted stayed
// in the epoll set, ready, until the end of the round — which never came: the wheel, the
// command loop ('collect') and every monitor stopped.
func TestPollReturnsWhenEverySocketEndsAtOnce(t *testing.T) {
	listener := listen(t)
	defer listener.Close()
	r, err := newReactor()
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{reactor: r, current: &phaseStats{}}
	const n = 3 * len(r.events) / 2
	for i := 0; i < n; i++ {
		client, server := connectedPair(t, listener)
		server.Close() // the peer ends: the client's socket is readable (EOF) for good
		s := newSock(client)
		if err := s.detach(r); err != nil {
			t.Fatal(err)
		}
		r.byFD[int32(s.fd)] = &session{cp: &cp{}, f: f, sock: s, conn: s}
	}
	done := make(chan int, 1)
	go func() { done <- f.poll() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("poll did not return with every socket at end-of-stream")
	}
	if len(r.closing) != n || len(r.byFD) != 0 {
		t.Fatalf("%d of %d sessions aborted, %d sockets still watched", len(r.closing), n, len(r.byFD))
	}
}

// listen opens a TCP listener on a free loopback port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return listener
}

// connectedPair dials listener and accepts: the two ends of one loopback connection.
func connectedPair(t *testing.T, listener net.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = listener.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}
