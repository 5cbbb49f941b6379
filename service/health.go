package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz pings the queue and the bucket, each with its own timeout. The
// answer says which failed; why goes to the log only.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	checks := []struct {
		name string
		ping func(context.Context) error
	}{{"queue", a.jobs.Ping}, {"storage", a.bucket.Ping}, {"disk", a.checkDisk}}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := c.ping(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", c.name, err)
			}
		})
	}
	wg.Wait()
	status, body := http.StatusOK, map[string]any{"status": "ok"}
	var failed []string
	for i, c := range checks {
		if errs[i] != nil {
			failed = append(failed, c.name)
		}
	}
	if len(failed) > 0 {
		status, body = http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed}
		info(r).cause = errors.Join(errs...)
	}
	writeJSON(w, status, body)
}
