package service

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mediaprep/mediaprep/queue"
)

// Metrics are the service's Prometheus metrics, in a registry of their own
// (served at /metrics). Every method is a no-op on a nil *Metrics, so
// callers need no checks.
type Metrics struct {
	Registry *prometheus.Registry

	jobs        *prometheus.CounterVec
	stages      *prometheus.HistogramVec
	ffmpeg      prometheus.Counter
	greenAPI    *prometheus.CounterVec
	uploads     *prometheus.CounterVec
	uploadBytes prometheus.Counter
	deliveries  *prometheus.CounterVec
	sentAfter   prometheus.Histogram
	accountJobs *prometheus.CounterVec
	accountAPI  *prometheus.CounterVec

	depthOnce sync.Once
	depth     atomic.Pointer[func(context.Context) (int, error)]
}

// depthTimeout bounds the queue depth lookup a scrape makes.
const depthTimeout = time.Second

// NewMetrics returns the service's metrics registered in a new registry,
// with the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mediaprep_jobs_total",
			Help: "Jobs that entered a state (queued, preparing, storing, posting, posted, failed).",
		}, []string{"state"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mediaprep_stage_seconds",
			Help:    "Time a job spent in a stage of the pipeline.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"stage"}),
		ffmpeg: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mediaprep_ffmpeg_seconds_total",
			Help: "Wall-clock seconds spent preparing media (ffmpeg and image work).",
		}),
		greenAPI: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mediaprep_greenapi_responses_total",
			Help: `Green API responses by method and HTTP status ("error" when no response came).`,
		}, []string{"method", "code"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mediaprep_uploads_total",
			Help: `POST /v1/statuses requests by outcome: "accepted" or the error code answered.`,
		}, []string{"code"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mediaprep_upload_bytes_total",
			Help: "Bytes of accepted uploads.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mediaprep_deliveries_total",
			Help: "Posted statuses by what getOutgoingStatuses showed: sent, delivered, read, not_confirmed; resolved counts outcome_unknown sends found there.",
		}, []string{"result"}),
		sentAfter: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mediaprep_send_to_sent_seconds",
			Help:    "Time from a status send to the look at getOutgoingStatuses that showed it sent.",
			Buckets: []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600},
		}),
	}
	m.accountJobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mediaprep_account_jobs_total",
		Help: `Jobs that ended posted or failed, by account ("default" for the single-instance settings).`,
	}, []string{"account", "state"})
	m.accountAPI = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mediaprep_account_greenapi_responses_total",
		Help: `Green API responses by account, method and HTTP status ("error" when no response came), for the accounts of an accounts file.`,
	}, []string{"account", "method", "code"})
	m.Registry.MustRegister(m.deliveries, m.sentAfter, m.accountJobs, m.accountAPI)
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.jobs, m.stages, m.ffmpeg, m.greenAPI, m.uploads, m.uploadBytes,
	)
	return m
}

// Delivery counts a followed status's result; seen, when it showed as
// sent or later, is the time from its send.
func (m *Metrics) Delivery(result string, seen time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(result).Inc()
	if seen > 0 {
		m.sentAfter.Observe(seen.Seconds())
	}
}

// JobState counts a job entering state s.
func (m *Metrics) JobState(s queue.State) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(string(s)).Inc()
}

// AccountJob counts a job of account ("" is "default") ending in state s.
func (m *Metrics) AccountJob(account string, s queue.State) {
	if m == nil {
		return
	}
	if account == "" {
		account = defaultAccount
	}
	m.accountJobs.WithLabelValues(account, string(s)).Inc()
}

// Stage records that a job spent d in stage.
func (m *Metrics) Stage(stage string, d time.Duration) {
	if m == nil {
		return
	}
	m.stages.WithLabelValues(stage).Observe(d.Seconds())
}

// FFmpeg adds d to the time spent preparing media.
func (m *Metrics) FFmpeg(d time.Duration) {
	if m == nil {
		return
	}
	m.ffmpeg.Add(d.Seconds())
}

// Upload counts one POST /v1/statuses answered with code ("accepted" or
// an error code) and, when accepted, its size in bytes.
func (m *Metrics) Upload(code string, size int64) {
	if m == nil {
		return
	}
	m.uploads.WithLabelValues(code).Inc()
	if size > 0 {
		m.uploadBytes.Add(float64(size))
	}
}

// QueueDepth makes the gauge mediaprep_queue_depth report f at each
// scrape, called with a one-second timeout; the gauge is -1 when f fails.
// A later call replaces f.
func (m *Metrics) QueueDepth(f func(ctx context.Context) (int, error)) {
	if m == nil || f == nil {
		return
	}
	m.depth.Store(&f)
	m.depthOnce.Do(func() {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mediaprep_queue_depth",
			Help: "Jobs queued or running; -1 when the queue could not be asked.",
		}, m.queueDepth))
	})
}

func (m *Metrics) queueDepth() float64 {
	f := *m.depth.Load()
	ctx, cancel := context.WithTimeout(context.Background(), depthTimeout)
	defer cancel()
	n, err := f(ctx)
	if err != nil {
		return -1
	}
	return float64(n)
}

// Transport wraps rt (http.DefaultTransport when nil) to count Green API
// responses in mediaprep_greenapi_responses_total{method,code}. The method
// is the segment after waInstance{id} in /waInstance{id}/{method}/{token};
// the URL and the token are never recorded.
func (m *Metrics) Transport(rt http.RoundTripper) http.RoundTripper {
	if m == nil {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &countingTransport{rt: rt, m: m}
}

type countingTransport struct {
	rt      http.RoundTripper
	m       *Metrics
	account string // also counted per account, when set
}

// AccountTransport is Transport, counting the responses in
// mediaprep_account_greenapi_responses_total{account,method,code} too.
func (m *Metrics) AccountTransport(account string, rt http.RoundTripper) http.RoundTripper {
	t := m.Transport(rt)
	if ct, ok := t.(*countingTransport); ok {
		ct.account = account
	}
	return t
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := greenAPIMethod(req.URL.Path)
	resp, err := t.rt.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.m.greenAPI.WithLabelValues(method, code).Inc()
	if t.account != "" {
		t.m.accountAPI.WithLabelValues(t.account, method, code).Inc()
	}
	return resp, err
}

// greenAPIMethod returns the method of a Green API path
// /waInstance{id}/{method}/{token}[/…], or "other". Only a segment that is
// followed by another one (the token) and made of letters only counts, so
// a malformed path cannot put the token in the label.
func greenAPIMethod(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "waInstance") {
			continue
		}
		if i+2 < len(segs) && isMethodName(segs[i+1]) {
			return segs[i+1]
		}
		break
	}
	return "other"
}

func isMethodName(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
