package main

// The few messages of PROTOCOL.md §1 a monitor sends and the responses it parses, checked as
// wire.tcp_messages.RESPONSES checks them (field counts, required fields, numbers, enums), so
// an answer the Python monitors would call unparsable is unparsable here too.

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// formatNumber writes a coordinate as a plain decimal (Central's number pattern).
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// registerData is REGISTER#cp_id#location#x#y[#claim[#token]]: a trailing extension field
// left empty is not sent, as wire.fields.Message.to_text does.
func registerData(cpID, location string, x, y float64, claim, token string) []byte {
	parts := []string{"REGISTER", cpID, location, formatNumber(x), formatNumber(y), claim, token}
	for len(parts) > 5 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return []byte(strings.Join(parts, "#"))
}

func authData(cpID, credential string) []byte {
	return []byte("AUTH#" + cpID + "#" + credential)
}

func heartbeatData(cpID string) []byte {
	return []byte("HEARTBEAT#" + cpID + "#OK")
}

type opcode int

const (
	opRegistered opcode = iota + 1
	opRejected
	opAuthorized
	opAlive
	opNoted
	opError
)

// response is a parsed response; only what the monitors use is kept.
type response struct {
	op         opcode
	credential string // REGISTERED
	key        string // REGISTERED, AUTHORIZED (the CP's Kafka key, may be empty)
	reason     string // REJECTED, ERROR
}

type fieldKind int

const (
	fText fieldKind = iota
	fNumber
	fAdminState
)

type spec struct {
	op       opcode
	kinds    []fieldKind
	required int // fields before the trailing extensions
}

var responseSpecs = map[string]spec{
	"REGISTERED": {opRegistered, []fieldKind{fText, fText, fNumber, fText}, 3},
	"REJECTED":   {opRejected, []fieldKind{fText, fText}, 2},
	"AUTHORIZED": {opAuthorized, []fieldKind{fText, fNumber, fAdminState, fText}, 3},
	"ALIVE":      {opAlive, []fieldKind{fText, fAdminState}, 2},
	"NOTED":      {opNoted, []fieldKind{fText, fText}, 2},
	"ERROR":      {opError, []fieldKind{fText}, 1},
}

// number is wire.fields' _NUMBER: what repr(float) writes, no nan, inf or spaces.
var number = regexp.MustCompile(`^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$`)

var errUnparsable = errors.New("unparsable response")

func checkField(kind fieldKind, raw string, optional bool) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 {
			return false
		}
	}
	if raw == "" {
		return optional
	}
	switch kind {
	case fNumber:
		if !number.MatchString(raw) {
			return false
		}
		_, err := strconv.ParseFloat(raw, 64)
		return err == nil // out of range (inf) is refused too
	case fAdminState:
		return raw == "ACTIVE" || raw == "STOPPED"
	}
	return true
}

var alivePrefix = []byte("ALIVE#")

// parseResponse parses DATA of a frame from Central.
func parseResponse(data []byte) (response, error) {
	if bytes.HasPrefix(data, alivePrefix) { // 10,000 a second: checked without allocating
		rest := data[len(alivePrefix):]
		i := bytes.IndexByte(rest, '#')
		if i > 0 && checkBytes(rest[:i]) && isAdminState(rest[i+1:]) {
			return response{op: opAlive}, nil
		}
		return response{}, errUnparsable
	}
	if !utf8.Valid(data) {
		return response{}, errUnparsable
	}
	fields := strings.Split(string(data), "#")
	sp, ok := responseSpecs[fields[0]]
	if !ok {
		return response{}, errUnparsable
	}
	raw := fields[1:]
	if len(raw) < sp.required || len(raw) > len(sp.kinds) {
		return response{}, errUnparsable
	}
	for i, value := range raw {
		if !checkField(sp.kinds[i], value, i >= sp.required) {
			return response{}, errUnparsable
		}
	}
	r := response{op: sp.op}
	switch sp.op {
	case opRegistered:
		r.credential = raw[1]
		if len(raw) > 3 {
			r.key = raw[3]
		}
	case opAuthorized:
		if len(raw) > 3 {
			r.key = raw[3]
		}
	case opRejected:
		r.reason = raw[1]
	case opError:
		r.reason = raw[0]
	}
	return r, nil
}

// checkBytes: a text field (UTF-8, no control byte; '#' was split on).
func checkBytes(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
}

func isAdminState(b []byte) bool {
	return string(b) == "ACTIVE" || string(b) == "STOPPED" // no allocation for a comparison
}
