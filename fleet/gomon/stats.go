package main

// Per-phase statistics, field for field fleet.monitors.PhaseStats, and fleet.stats.Histogram's
// log buckets (3 % wide from 1 µs: index = int(ln(µs) / ln(1.03))), so the coordinator merges
// them with the Python workers' as they are.

import (
	"encoding/json"
	"math"
	"strconv"
)

const histBuckets = 1024 // index 1023 is ~1.4e13 µs: far beyond any latency

var histInvLog = 1.0 / math.Log(1.03)

type histogram struct {
	buckets [histBuckets]int64
	count   int64
	total   float64
	low     float64
	high    float64
}

func (h *histogram) add(seconds float64) {
	micros := seconds * 1e6
	if micros < 1 {
		micros = 1
	}
	i := int(math.Log(micros) * histInvLog)
	if i >= histBuckets {
		i = histBuckets - 1
	}
	h.buckets[i]++
	if h.count == 0 || seconds < h.low {
		h.low = seconds
	}
	if seconds > h.high {
		h.high = seconds
	}
	h.count++
	h.total += seconds
}

// MarshalJSON writes the non-empty buckets; "low" is null without samples (Python's inf).
func (h *histogram) MarshalJSON() ([]byte, error) {
	buckets := map[string]int64{}
	for i, n := range h.buckets {
		if n != 0 {
			buckets[strconv.Itoa(i)] = n
		}
	}
	var low *float64
	if h.count > 0 {
		low = &h.low
	}
	return json.Marshal(map[string]interface{}{
		"buckets": buckets, "count": h.count, "total": h.total, "low": low, "high": h.high,
	})
}

// phaseStats is what the monitors saw during one phase (see fleet/monitors.py).
type phaseStats struct {
	HbDue            int64     `json:"hb_due"`
	HbOk             int64     `json:"hb_ok"`      // answered within answerLimit of the tick
	HbLate           int64     `json:"hb_late"`    // answered later than that
	HbLost           int64     `json:"hb_lost"`    // the connection dropped, or an error response
	HbOverdue        int64     `json:"hb_overdue"` // outstanding and older than answerLimit
	Latency          histogram `json:"latency"`
	TickLag          histogram `json:"tick_lag"` // how late this generator's wheel ran
	Connects         int64     `json:"connects"`
	ConnectFailures  int64     `json:"connect_failures"`
	Refused          int64     `json:"refused"`
	Drops            int64     `json:"drops"`
	Timeouts         int64     `json:"timeouts"`
	Registered       int64     `json:"registered"`
	RegisterRejected int64     `json:"register_rejected"`
	LockedOut        int64     `json:"locked_out"`
	AuthOk           int64     `json:"auth_ok"`
	AuthRejected     int64     `json:"auth_rejected"`
	Errors           int64     `json:"errors"`
	TLSFull          int64     `json:"tls_full"`
	TLSResumed       int64     `json:"tls_resumed"`
	AuthTimes        []float64 `json:"auth_times"` // wall clock of each CP's first AUTH
}

// copyStats is a snapshot that can be encoded after the fleet's lock is released.
func (s *phaseStats) copyStats() *phaseStats {
	c := *s
	c.AuthTimes = append([]float64{}, s.AuthTimes...)
	return &c
}
