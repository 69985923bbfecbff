package main

// What the coordinator asks for: the live figures (snapshot), the CPs to silence, and at the
// end everything per phase (collect), in the shapes fleet/monitors.py's MonitorFleet returns.

import "sort"

// --- reports (under the lock) ----------------------------------------------------------------

func (f *fleet) countOverdue() {
	now := monotonic()
	for _, st := range f.stats {
		st.HbOverdue = 0
	}
	f.staleStats.HbOverdue = 0
	for _, c := range f.cps {
		if s := c.session; s != nil && s.hbStats != nil && now-s.hbDue > answerLimit {
			s.hbStats.HbOverdue++
		}
	}
}

func (f *fleet) snapshot() map[string]interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.countOverdue()
	registered, lockedOut := 0, 0
	var last *float64
	for _, c := range f.cps {
		if c.registeredAt != 0 {
			registered++
			if last == nil || c.registeredAt > *last {
				t := c.registeredAt
				last = &t
			}
		}
		if c.lockedOut {
			lockedOut++
		}
	}
	keys := f.newKeys
	f.newKeys = map[string]string{}
	return map[string]interface{}{
		"phase":              f.phase,
		"authenticated":      f.authenticated,
		"registered":         registered,
		"last_registered_at": last,
		"locked_out":         lockedOut,
		"stats":              f.current.copyStats(),
		"keys":               keys,
	}
}

// silence makes count authenticated CPs go quiet (socket open) after their next answer.
func (f *fleet) silence(count int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	chosen := []string{}
	for _, c := range f.cps {
		if len(chosen) >= count {
			break
		}
		if s := c.session; s != nil && s.authenticated && !s.stale {
			c.silenceWanted = true
			chosen = append(chosen, c.id)
		}
	}
	return chosen
}

func (f *fleet) collect() map[string]interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.countOverdue()
	now := wallClock()
	intervals := make(map[string][][2]float64, len(f.cps))
	registeredAt := []float64{}
	for _, c := range f.cps {
		spans := append([][2]float64{}, c.intervals...)
		if c.up {
			spans = append(spans, [2]float64{c.upSince, now})
		}
		intervals[c.id] = spans
		if c.registeredAt != 0 {
			registeredAt = append(registeredAt, c.registeredAt)
		}
	}
	sort.Float64s(registeredAt)
	stats := map[string]*phaseStats{}
	for name, st := range f.stats {
		stats[name] = st.copyStats()
	}
	silenced := map[string]float64{}
	for id, t := range f.silenced {
		silenced[id] = t
	}
	return map[string]interface{}{
		"stats":           stats,
		"stale":           f.staleStats.copyStats(),
		"samples":         append([][2]int64{}, f.samples...),
		"intervals":       intervals,
		"silenced":        silenced,
		"registered_at":   registeredAt,
		"claim_supported": f.claimSupported,
	}
}
