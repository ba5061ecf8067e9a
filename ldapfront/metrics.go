package ldapfront

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the LDAP frontend's Prometheus metrics.
type Metrics struct {
	operations  *prometheus.CounterVec   // by op and result code
	latency     *prometheus.HistogramVec // by op
	binds       *prometheus.CounterVec   // by outcome
	bindDelays  prometheus.Counter
	connections prometheus.Gauge
	entries     prometheus.Counter

	children sync.Map // opCode → opChildren
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and tools).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirgate", Subsystem: "ldap", Name: "operations_total",
			Help: "LDAP operations by operation and result code.",
		}, []string{"op", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "dirgate", Subsystem: "ldap", Name: "operation_duration_seconds",
			Help:    "Time to answer an LDAP operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
		binds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirgate", Subsystem: "ldap", Name: "binds_total",
			Help: "Bind outcomes: anonymous, service, user, wrong_password, unknown_user, inactive, upstream_error, ...",
		}, []string{"outcome"}),
		bindDelays: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dirgate", Subsystem: "ldap", Name: "bind_throttled_total",
			Help: "Binds delayed because of recent failures for the same name.",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "dirgate", Subsystem: "ldap", Name: "connections",
			Help: "Open LDAP connections that have sent a request.",
		}),
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dirgate", Subsystem: "ldap", Name: "search_entries_total",
			Help: "Entries returned by searches.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.operations, m.latency, m.binds, m.bindDelays, m.connections, m.entries)
	}
	return m
}

var resultLabels = func() map[int]string {
	m := map[int]string{}
	for i := 0; i < 128; i++ {
		m[i] = strconv.Itoa(i)
	}
	return m
}()

// observe counts an operation. The labelled children are looked up once
// and kept: every request passes here.
func (m *Metrics) observe(op string, code int, start time.Time) {
	k := opCode{op, code}
	v, ok := m.children.Load(k)
	if !ok {
		label, known := resultLabels[code]
		if !known {
			label = strconv.Itoa(code)
		}
		v, _ = m.children.LoadOrStore(k, opChildren{m.operations.WithLabelValues(op, label), m.latency.WithLabelValues(op)})
	}
	c := v.(opChildren)
	c.count.Inc()
	c.latency.Observe(time.Since(start).Seconds())
}

type opCode struct {
	op   string
	code int
}

type opChildren struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func (m *Metrics) bind(outcome string) { m.binds.WithLabelValues(outcome).Inc() }
