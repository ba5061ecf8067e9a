package restfront

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dirgate/dirgate/cache"
)

// Metrics are the Crowd frontend's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec   // by route and status
	latency  *prometheus.HistogramVec // by route
	appAuths *prometheus.CounterVec   // application authentication failures by reason
	auths    *prometheus.CounterVec   // user authentications by outcome

	children sync.Map // routeStatus → routeChildren
}

// NewMetrics creates the metrics and registers them with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirgate", Subsystem: "rest", Name: "requests_total",
			Help: "Crowd REST requests by route and HTTP status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "dirgate", Subsystem: "rest", Name: "request_duration_seconds",
			Help:    "Time to answer a Crowd REST request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		appAuths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirgate", Subsystem: "rest", Name: "application_auth_failures_total",
			Help: "Requests refused before routing: no_credentials, unknown_application, forbidden_address, wrong_password.",
		}, []string{"reason"}),
		auths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirgate", Subsystem: "rest", Name: "user_authentications_total",
			Help: "User authentications (/authentication and /session) by outcome.",
		}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.appAuths, m.auths)
	}
	return m
}

type routeStatus struct {
	route  string
	status int
}

type routeChildren struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func (m *Metrics) observe(route string, status int, start time.Time) {
	if status == 0 {
		status = 200
	}
	k := routeStatus{route, status}
	v, ok := m.children.Load(k)
	if !ok {
		v, _ = m.children.LoadOrStore(k, routeChildren{m.requests.WithLabelValues(route, strconv.Itoa(status)), m.latency.WithLabelValues(route)})
	}
	c := v.(routeChildren)
	c.count.Inc()
	c.latency.Observe(time.Since(start).Seconds())
}

func (m *Metrics) appAuth(reason string)   { m.appAuths.WithLabelValues(reason).Inc() }
func (m *Metrics) userAuth(outcome string) { m.auths.WithLabelValues(outcome).Inc() }

// upstreamCollector exports each upstream's sync figures from its stored
// status at every scrape.
type upstreamCollector struct {
	store                                       *cache.Store
	users, groups, lastSuccess, failures, state *prometheus.Desc
	lastDuration, changes                       *prometheus.Desc
}

// NewUpstreamCollector returns a collector of per-upstream sync figures.
func NewUpstreamCollector(store *cache.Store) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("dirgate_upstream_"+name, help, append([]string{"upstream"}, labels...), nil)
	}
	return &upstreamCollector{
		store:        store,
		users:        d("users", "Users the upstream holds."),
		groups:       d("groups", "Groups the upstream holds."),
		lastSuccess:  d("last_success_timestamp_seconds", "When the last sync succeeded (Unix time)."),
		failures:     d("consecutive_failures", "Failed syncs since the last success."),
		state:        d("state", "1 for the upstream's current state.", "state"),
		lastDuration: d("last_sync_duration_seconds", "Duration of the last successful sync of each kind.", "kind"),
		changes:      d("last_sync_changes", "Records the last successful sync of each kind changed.", "kind"),
	}
}

func (c *upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.users, c.groups, c.lastSuccess, c.failures, c.state, c.lastDuration, c.changes} {
		ch <- d
	}
}

func (c *upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.store.Upstreams() {
		st, err := c.store.Status(name)
		if err != nil {
			continue
		}
		u, g, _ := c.store.UpstreamCounts(name)
		ch <- prometheus.MustNewConstMetric(c.users, prometheus.GaugeValue, float64(u), name)
		ch <- prometheus.MustNewConstMetric(c.groups, prometheus.GaugeValue, float64(g), name)
		if !st.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(st.LastSuccess.Unix()), name)
		}
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(st.ConsecutiveFailures), name)
		for _, s := range []string{cache.StatePending, cache.StateConnected, cache.StateSyncing, cache.StateError} {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, name, s)
		}
		for kind, run := range map[string]*cache.SyncRun{"full": st.LastFull, "incremental": st.LastIncremental} {
			if run == nil || run.Result == nil {
				continue
			}
			r := run.Result
			ch <- prometheus.MustNewConstMetric(c.lastDuration, prometheus.GaugeValue, run.Duration.Seconds(), name, kind)
			ch <- prometheus.MustNewConstMetric(c.changes, prometheus.GaugeValue,
				float64(r.UsersAdded+r.UsersUpdated+r.UsersDeleted+r.GroupsAdded+r.GroupsUpdated+r.GroupsDeleted), name, kind)
		}
	}
}
