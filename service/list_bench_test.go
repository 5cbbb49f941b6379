package service

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/queue"
)

// BenchmarkListEndpoint answers GET /v1/statuses (a page of 50, as JSON)
// over 20 000 jobs of two accounts, unfiltered and filtered, and reports
// the 99th percentile of one request through the handler.
func BenchmarkListEndpoint(b *testing.B) {
	q := embeddedQueue(b, queue.Config{MaxQueued: 30000})
	const n = 20000
	for i := range n {
		j := queue.Job{Origin: []queue.Origin{queue.OriginUpload, queue.OriginInbox}[i%2], Account: []string{"shop", "news"}[i%3%2],
			Name: "photo.jpg", Size: 123456, Request: queue.Request{Caption: "a caption of some length, like the ones people write"}}
		if _, err := q.Enqueue(b.Context(), j); err != nil {
			b.Fatal(err)
		}
	}
	ix, err := q.Index(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ix.Len() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the index holds %d jobs", ix.Len())
		}
	}
	api, err := NewAPI(APIConfig{SpoolDir: b.TempDir(), List: ix, Accounts: []string{"shop", "news"}}, q, newFakeBucket())
	if err != nil {
		b.Fatal(err)
	}
	h := api.Handler()
	for _, query := range []string{"", "account=news&origin=inbox&state=queued"} {
		b.Run(fmt.Sprintf("query=%q", query), func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/v1/statuses?"+query, nil))
				took = append(took, time.Since(t0))
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}
