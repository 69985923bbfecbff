package main

// PROTOCOL.md §1's byte layer: STX DATA ETX LRC frames and lone control bytes, decoded
// incrementally exactly as wire/framing.py's FrameDecoder does (frames split across or packed
// into reads, the byte after ETX taken as the LRC whatever its value).

import "errors"

const (
	stx     = 0x02
	etx     = 0x03
	eot     = 0x04
	enq     = 0x05
	ack     = 0x06
	nack    = 0x15
	maxData = 1024
)

var (
	errTooLarge  = errors.New("frame DATA is over 1024 bytes")
	errDelimiter = errors.New("frame DATA may not contain STX or ETX")
)

// lrc is the XOR of every byte of DATA.
func lrc(data []byte) byte {
	var v byte
	for _, b := range data {
		v ^= b
	}
	return v
}

// appendFrame appends STX data ETX LRC to dst.
func appendFrame(dst, data []byte) ([]byte, error) {
	if len(data) > maxData {
		return dst, errTooLarge
	}
	for _, b := range data {
		if b == stx || b == etx {
			return dst, errDelimiter
		}
	}
	dst = append(dst, stx)
	dst = append(dst, data...)
	return append(dst, etx, lrc(data)), nil
}

type eventKind int

const (
	evControl  eventKind = iota // a lone ENQ, ACK, NACK or EOT
	evFrame                     // a frame whose LRC matched
	evBad                       // answer NACK (malformed, bad LRC)
	evTooLarge                  // over the size limit: close
)

// event is what the decoder found; data is valid only during the call that receives it.
type event struct {
	kind eventKind
	code byte
	data []byte
}

// eventSink receives the decoder's events; false stops the feed (the connection is gone).
type eventSink interface {
	onEvent(ev event) bool
}

const (
	decOutside = iota
	decData
	decLRC
	decSkip
	decSkipLRC
)

// decoder is wire.framing.FrameDecoder: bytes in, events out, no I/O.
type decoder struct {
	state int
	buf   []byte
}

func isStandalone(b byte) bool {
	return b == eot || b == enq || b == ack || b == nack
}

// feed hands the events completed by chunk to sink, in order.
func (d *decoder) feed(chunk []byte, sink eventSink) {
	i, n := 0, len(chunk)
	for i < n {
		switch d.state {
		case decData:
			j := i
			for j < n && chunk[j] != stx && chunk[j] != etx {
				j++
			}
			room := maxData - len(d.buf)
			if j-i > room {
				d.buf = append(d.buf, chunk[i:i+room]...)
				d.buf = d.buf[:0]
				d.state = decSkip
				i += room + 1 // the byte past the limit is dropped with the frame
				if !sink.onEvent(event{kind: evTooLarge}) {
					return
				}
				continue
			}
			d.buf = append(d.buf, chunk[i:j]...)
			if j >= n {
				return
			}
			i = j + 1
			if chunk[j] == etx {
				d.state = decLRC
			} else { // STX inside a frame
				d.buf = d.buf[:0]
				if !sink.onEvent(event{kind: evBad}) {
					return
				}
			}
		case decSkip:
			j := i
			for j < n && chunk[j] != etx {
				j++
			}
			if j >= n {
				return
			}
			i = j + 1
			d.state = decSkipLRC
		case decSkipLRC:
			i++
			d.state = decOutside
		case decLRC:
			b := chunk[i]
			i++
			d.state = decOutside
			data := d.buf
			d.buf = d.buf[:0]
			ev := event{kind: evBad}
			if b == lrc(data) {
				ev = event{kind: evFrame, data: data}
			}
			if !sink.onEvent(ev) {
				return
			}
		default: // outside a frame
			b := chunk[i]
			i++
			if b == stx {
				d.buf = d.buf[:0]
				d.state = decData
				continue
			}
			ev := event{kind: evBad}
			if isStandalone(b) {
				ev = event{kind: evControl, code: b}
			}
			if !sink.onEvent(ev) {
				return
			}
		}
	}
}
