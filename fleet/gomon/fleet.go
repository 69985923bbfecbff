package main

// The monitors of the generator: their CPs, connections, the heartbeat wheel and the
// figures the coordinator collects, as fleet/monitors.py's MonitorFleet keeps them. One lock
// guards all of it: the reactor (reactor.go: the wheel and every open session's I/O), the
// command loop (main.go) and the goroutines that open connections (connect, until the TLS
// handshake is done) take it in turn.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	answerLimit  = 2.0  // a heartbeat is answered when ALIVE arrives within this of its tick
	nextCentralS = 0.05 // as EV_CP_M: the other Central of a pair is tried at once
	backoffBase  = 0.2  // EV_CP_M's back-off: full jitter, ceilings 0.2, 0.4 … backoffCap
	maxAttempts  = 3
	slots        = 100 // the heartbeat wheel: 100 phases of 10 ms
	slotLength   = 10 * time.Millisecond
)

var started = time.Now()

// monotonic is seconds on this process's monotonic clock.
func monotonic() float64 { return time.Since(started).Seconds() }

// wallClock is seconds since the epoch (compared with Central's and Kafka's timestamps).
func wallClock() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// cpSpec is one CP as the coordinator hands it over.
type cpSpec struct {
	ID    string  `json:"id"`
	Claim string  `json:"claim"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
}

// options are MonitorFleet's keyword arguments.
type options struct {
	ResponseTimeout float64           `json:"response_timeout"`
	ConnectTimeout  float64           `json:"connect_timeout"`
	BackoffCap      float64           `json:"backoff_cap"`
	Seed            int64             `json:"seed"`
	TLSCA           string            `json:"tls_ca"`
	ReportKeys      bool              `json:"report_keys"`
	Tokens          map[string]string `json:"tokens"` // the operator's enrollment tokens
}

// cp is one simulated charging point's monitor, across its connections.
type cp struct {
	id, claim, token string
	x, y             float64
	slot             int
	credential       string
	hasCredential    bool
	useClaim         bool
	session          *session
	failures         int
	lockedOut        bool
	silenceWanted    bool
	silenced         bool
	silencedAt       float64 // wall clock of the last frame before silence
	up               bool
	upSince          float64
	intervals        [][2]float64 // authenticated and heartbeating, wall clock
	authPhase        string
	registeredAt     float64 // 0: not registered
	lastHbSent       float64
	hbFrame          []byte
	tlsConfig        *tls.Config // with this CP's own session cache (resumption)
	key              string
	at               int // which of the fleet's Central ports (a pair has two)
	roundStart       int // where this round of failed addresses began
}

type fleet struct {
	mu              sync.Mutex
	ports           []int
	responseTimeout float64
	connectTimeout  time.Duration
	backoffCap      float64
	rng             *rand.Rand
	cps             []*cp
	wheel           [slots][]*cp
	claimSupported  bool
	tlsBase         *tls.Config
	reportKeys      bool
	newKeys         map[string]string
	tlsRefused      bool
	silenced        map[string]float64
	stopping        bool
	phase           string
	stats           map[string]*phaseStats
	current         *phaseStats
	staleStats      *phaseStats
	authenticated   int
	sampling        bool
	samples         [][2]int64 // (quarter-second index, authenticated)
	reactor         *reactor
	dirty           []*session // with bytes to send this round
	started         bool
}

func newFleet(ports []int, specs []cpSpec, o options) (*fleet, error) {
	if len(ports) == 0 {
		return nil, errors.New("no Central port")
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 10
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5
	}
	if o.BackoffCap <= 0 {
		o.BackoffCap = 5
	}
	f := &fleet{
		ports:           ports,
		responseTimeout: o.ResponseTimeout,
		connectTimeout:  time.Duration(o.ConnectTimeout * float64(time.Second)),
		backoffCap:      o.BackoffCap,
		rng:             rand.New(rand.NewSource(o.Seed)),
		claimSupported:  true,
		reportKeys:      o.ReportKeys,
		newKeys:         map[string]string{},
		silenced:        map[string]float64{},
		phase:           "start",
		stats:           map[string]*phaseStats{"start": {}},
		staleStats:      &phaseStats{},
	}
	f.current = f.stats["start"]
	r, err := newReactor()
	if err != nil {
		return nil, fmt.Errorf("epoll: %v", err)
	}
	f.reactor = r
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("cannot read the CA %s: %v", o.TLSCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in the CA file %s", o.TLSCA)
		}
		// Central's certificate is checked against the CA and the name 127.0.0.1
		f.tlsBase = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	for _, s := range specs {
		c := &cp{
			id: s.ID, claim: s.Claim, token: o.Tokens[s.ID], x: s.X, y: s.Y,
			slot: f.rng.Intn(slots), useClaim: true,
		}
		c.hbFrame, _ = appendFrame(nil, heartbeatData(c.id))
		f.cps = append(f.cps, c)
		f.wheel[c.slot] = append(f.wheel[c.slot], c)
	}
	return f, nil
}

// cpSessions is one CP's TLS session cache: the session of its last connection is offered
// on the next one, as EV_CP_M keeps its SSLSession (resumed while the same Central runs).
type cpSessions struct {
	mu      sync.Mutex
	session *tls.ClientSessionState
}

func (c *cpSessions) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session, c.session != nil
}

func (c *cpSessions) Put(_ string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	c.session = cs
	c.mu.Unlock()
}

// --- life cycle ------------------------------------------------------------------------------

func (f *fleet) start(spread float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cps {
		f.connectAfter(f.rng.Float64()*spread, c)
	}
	if !f.started {
		f.started = true
		go f.runReactor()
	}
}

func (f *fleet) setPhase(name string, stale, sample bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.phase = name
	if f.stats[name] == nil {
		f.stats[name] = &phaseStats{}
	}
	f.current = f.stats[name]
	f.sampling = sample
	if stale {
		for _, c := range f.cps {
			s := c.session
			if s != nil && s.authenticated && !s.stale {
				s.stale = true
				if s.counted {
					s.counted = false
					f.authenticated--
				}
			}
		}
	}
}

// stop closes every connection politely (EOT, then close); nothing reconnects.
func (f *fleet) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping = true
	for _, c := range f.cps {
		if s := c.session; s != nil {
			s.closePolitely()
		}
	}
}

// --- connections -----------------------------------------------------------------------------

func (f *fleet) connectAfter(seconds float64, c *cp) {
	time.AfterFunc(time.Duration(seconds*float64(time.Second)), func() { f.connect(c) })
}

// scheduleReconnect: EV_CP_M's back-off, reset by a good AUTH. With a pair the other
// address is tried at once; the back-off only after a round of both failed.
func (f *fleet) scheduleReconnect(c *cp) {
	if len(f.ports) > 1 {
		c.at = (c.at + 1) % len(f.ports)
		if c.at != c.roundStart {
			f.connectAfter(nextCentralS, c)
			return
		}
	}
	exponent := c.failures
	if exponent > 10 {
		exponent = 10
	}
	ceiling := math.Min(f.backoffCap, backoffBase*math.Pow(2, float64(exponent)))
	c.failures++
	f.connectAfter(f.rng.Float64()*ceiling, c)
}

func isCertificateError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// connect opens one connection of c (TCP, then TLS within the connect time-out) and, once
// it is open, reads it until it ends.
func (f *fleet) connect(c *cp) {
	defer guard("a monitor connection")
	f.mu.Lock()
	if f.stopping {
		f.mu.Unlock()
		return
	}
	address := net.JoinHostPort("127.0.0.1", strconv.Itoa(f.ports[c.at]))
	if f.tlsBase != nil && c.tlsConfig == nil {
		c.tlsConfig = f.tlsBase.Clone()
		c.tlsConfig.ClientSessionCache = &cpSessions{}
	}
	config := c.tlsConfig
	f.mu.Unlock()

	deadline := time.Now().Add(f.connectTimeout)
	var sk *sock
	var conn net.Conn
	raw, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", address)
	var resumed bool
	if err == nil {
		sk = newSock(raw)
		conn = sk
		if config != nil {
			tc := tls.Client(sk, config)
			sk.SetDeadline(deadline)
			if err = tc.Handshake(); err == nil {
				sk.SetDeadline(time.Time{})
				conn = tc
				resumed = tc.ConnectionState().DidResume
			} else {
				sk.Close()
			}
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && !f.stopping {
		if err = sk.detach(f.reactor); err != nil {
			logf("WARNING", "cannot hand a connection to the reactor: %v", err)
		}
	}
	if err != nil {
		f.current.ConnectFailures++
		if config != nil && isCertificateError(err) && !f.tlsRefused {
			f.tlsRefused = true
			logf("WARNING", "Central's certificate is not trusted: %v", err)
		}
		if !f.stopping {
			f.scheduleReconnect(c)
		}
		return
	}
	if f.stopping {
		sk.Close()
		return
	}
	s := &session{cp: c, f: f, sock: sk, conn: conn, state: stHandshake, since: monotonic()}
	f.reactor.byFD[int32(sk.fd)] = s
	c.session = s
	if config != nil {
		s.tls = true
		if resumed {
			f.current.TLSResumed++
		} else {
			f.current.TLSFull++
		}
	}
	s.send(enqByte)
}

func (f *fleet) onAuth(c *cp, s *session) {
	now := wallClock()
	s.counted = true
	f.authenticated++
	c.up, c.upSince = true, now
	c.failures = 0
	c.roundStart = c.at
	f.current.AuthOk++
	if c.authPhase != f.phase {
		c.authPhase = f.phase
		f.current.AuthTimes = append(f.current.AuthTimes, now)
	}
}

func (f *fleet) gotKey(c *cp, key string) {
	if key != "" && key != c.key {
		c.key = key
		if f.reportKeys {
			f.newKeys[c.id] = key
		}
	}
}

func (f *fleet) onDown(c *cp, s *session) {
	if s.counted {
		s.counted = false
		f.authenticated--
	}
	if s.authenticated && c.up {
		c.intervals = append(c.intervals, [2]float64{c.upSince, wallClock()})
		c.up = false
	}
}
