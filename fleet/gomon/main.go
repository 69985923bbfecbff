// Command evc-gomon is the monitor side of evc-fleet (docs/performance.md): thousands of
// simulated CP monitors speaking PROTOCOL.md §1 (plain TCP or TLS) to a real EV_Central, with
// the same semantics and per-phase figures as fleet/monitors.py, at a fraction of its cost.
//
// The Python coordinator (fleet/gomon.py) drives it over stdin/stdout, one JSON object per
// line each way: a command {"cmd": NAME, ...} is answered by {"ok": RESULT} or
// {"error": "Type: text"}. Commands: init (ports, cps, options — first, once), start (spread),
// phase (name, stale, sample), snapshot, silence (count), collect, stop. Warnings and a fatal
// error's reason go to stderr, which the coordinator keeps as this process's log: its last
// line says why the process died.
//
// EVC_GOMON_CPUPROFILE=FILE writes a CPU profile of the run (go tool pprof) when it stops.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

var logMu sync.Mutex

// logf writes one line to stderr in the Python children's log format.
func logf(level, format string, args ...interface{}) {
	logMu.Lock()
	defer logMu.Unlock()
	stamp := time.Now().Format("2006-01-02 15:04:05.000")
	fmt.Fprintf(os.Stderr, "%s gomon %s evc-gomon: %s\n", stamp, level, fmt.Sprintf(format, args...))
}

// guard ends the process on a panic, with the reason as the last line of its log.
func guard(what string) {
	if r := recover(); r != nil {
		logf("ERROR", "%s panicked:\n%s", what, debug.Stack())
		logf("ERROR", "died: panic in %s: %v", what, r)
		os.Exit(3)
	}
}

// pollable opens fd in non-blocking mode, so its reads and writes wait in Go's poller. A
// blocking read of the command pipe would hold the only processor (the generator is pinned
// to one core: GOMAXPROCS=1) until the runtime's monitor thread took it back, up to 10 ms
// later: every command stalled the heartbeat wheel and the readers that long.
func pollable(fd int, name string) *os.File {
	if err := syscall.SetNonblock(fd, true); err != nil {
		logf("WARNING", "%s stays blocking: %v", name, err)
	}
	return os.NewFile(uintptr(fd), name)
}

type command struct {
	Cmd    string   `json:"cmd"`
	Ports  []int    `json:"ports"`
	Cps    []cpSpec `json:"cps"`
	Spread float64  `json:"spread"`
	Name   string   `json:"name"`
	Stale  bool     `json:"stale"`
	Sample bool     `json:"sample"`
	Count  int      `json:"count"`
	options
}

type reply struct {
	Ok    interface{} `json:"ok"`
	Error string      `json:"error,omitempty"`
}

func dispatch(f **fleet, c *command) (interface{}, error) {
	if c.Cmd == "init" {
		if *f != nil {
			return nil, fmt.Errorf("ValueError: init twice")
		}
		made, err := newFleet(c.Ports, c.Cps, c.options)
		if err != nil {
			return nil, fmt.Errorf("ValueError: %v", err)
		}
		*f = made
		return map[string]interface{}{
			"cps": len(made.cps), "go": runtime.Version(), "gomaxprocs": runtime.GOMAXPROCS(0),
		}, nil
	}
	fl := *f
	if fl == nil {
		return nil, fmt.Errorf("ValueError: %q before init", c.Cmd)
	}
	switch c.Cmd {
	case "start":
		fl.start(c.Spread)
	case "port", "ports": // the Central ports of a later connection (a pair's two)
		fl.mu.Lock()
		if len(c.Ports) > 0 {
			fl.ports = c.Ports
		}
		fl.mu.Unlock()
	case "phase":
		fl.setPhase(c.Name, c.Stale, c.Sample)
	case "snapshot":
		return fl.snapshot(), nil
	case "silence":
		return fl.silence(c.Count), nil
	case "collect":
		return fl.collect(), nil
	case "stop":
		fl.stop()
	default:
		return nil, fmt.Errorf("ValueError: unknown command %q", c.Cmd)
	}
	return nil, nil
}

func main() {
	defer guard("the command loop")
	// Two processors even on one core: the reactor sleeps in system calls (reactor.go) and
	// the command loop and the connecting goroutines run on the other meanwhile.
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	if path := os.Getenv("EVC_GOMON_CPUPROFILE"); path != "" {
		if profile, err := os.Create(path); err != nil {
			logf("WARNING", "no CPU profile: %v", err)
		} else if err := pprof.StartCPUProfile(profile); err != nil {
			logf("WARNING", "no CPU profile: %v", err)
		} else {
			defer pprof.StopCPUProfile()
		}
	}
	in := bufio.NewReaderSize(pollable(0, "stdin"), 1<<16)
	out := bufio.NewWriterSize(pollable(1, "stdout"), 1<<16)
	var f *fleet
	for {
		line, err := in.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				logf("WARNING", "stdin from the coordinator: %v", err)
			}
			logf("WARNING", "the coordinator closed stdin: stopping")
			if f != nil {
				f.stop()
			}
			return
		}
		var c command
		var result interface{}
		if err = json.Unmarshal(line, &c); err != nil {
			err = fmt.Errorf("ValueError: not a command: %v", err)
		} else {
			result, err = dispatch(&f, &c)
		}
		r := reply{Ok: result}
		if err != nil {
			logf("ERROR", "command %q failed: %v", c.Cmd, err)
			r = reply{Error: err.Error()}
		}
		data, err := json.Marshal(r)
		if err != nil {
			logf("ERROR", "died: cannot encode the reply to %q: %v", c.Cmd, err)
			os.Exit(3)
		}
		out.Write(data)
		out.WriteByte('\n')
		if err := out.Flush(); err != nil {
			logf("WARNING", "stdout to the coordinator closed (%v): stopping", err)
			if f != nil {
				f.stop()
			}
			return
		}
		if c.Cmd == "stop" {
			time.Sleep(300 * time.Millisecond)
			return
		}
	}
}
