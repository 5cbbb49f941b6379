package greenapi_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

// realClient is a client with New's own limiters (no test overrides).
func realClient(t *testing.T, srv *greenapitest.Server, rate float64) *greenapi.Client {
	t.Helper()
	c, err := greenapi.New(greenapi.Config{APIURL: srv.URL(), IDInstance: testID, Token: testToken, RatePerSecond: rate})
	if err != nil {
		t.Fatal(err)
	}
	greenapi.SetRetryTiming(c, time.Millisecond, 10*time.Millisecond, time.Minute)
	return c
}

// concurrently runs f n times at once and returns the first error.
func concurrently(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	files := media(t)
	t.Run("20 concurrent sends at the default 5/s", func(t *testing.T) {
		t.Parallel()
		srv := greenapitest.NewServer(t, testID, testToken)
		c := realClient(t, srv, 0)
		err := concurrently(20, func(i int) error {
			var err error
			switch i % 3 {
			case 0:
				_, err = c.SendTextStatus(t.Context(), text)
			case 1:
				_, err = c.SendMediaStatus(t.Context(), greenapi.MediaStatus{URLFile: files.URL + "/img.jpg", FileName: "img.jpg"})
			default:
				_, err = c.SendVoiceStatus(t.Context(), greenapi.VoiceStatus{URLFile: files.URL + "/voice.mp3", FileName: "voice.mp3"})
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Posted()); n != 20 {
			t.Errorf("posted %d, want 20", n)
		}
		if m := srv.MaxPerSecond(""); m > 5 || m < 2 {
			t.Errorf("max %d sends in one second, want ≤ 5 (and some concurrency)", m)
		}
		noProtocolErrors(t, srv)
	})
	t.Run("retries go through the limiter", func(t *testing.T) {
		t.Parallel()
		srv := greenapitest.NewServer(t, testID, testToken)
		c := realClient(t, srv, 2)
		srv.Inject("", greenapitest.Fault{Status: 503}, greenapitest.Fault{Status: 503}, greenapitest.Fault{Status: 429})
		if _, err := c.SendTextStatus(t.Context(), text); err != nil {
			t.Fatal(err)
		}
		calls := srv.Requests()
		if len(calls) != 4 {
			t.Fatalf("%d requests, want 4", len(calls))
		}
		if m := srv.MaxPerSecond("sendTextStatus"); m > 2 {
			t.Errorf("max %d per second, want ≤ 2", m)
		}
		if span := calls[3].Time.Sub(calls[0].Time); span < time.Second {
			t.Errorf("4 requests at 2/s took %v", span)
		}
	})
	t.Run("deleteStatus 10/s", func(t *testing.T) {
		t.Parallel()
		srv := greenapitest.NewServer(t, testID, testToken)
		c := realClient(t, srv, 0)
		if err := concurrently(15, func(int) error { return c.DeleteStatus(t.Context(), "3EB0C767D097B7C7C030") }); err != nil {
			t.Fatal(err)
		}
		if m := srv.MaxPerSecond("deleteStatus"); m > 10 {
			t.Errorf("max %d deletes per second, want ≤ 10", m)
		}
	})
	t.Run("GET methods 1/s together", func(t *testing.T) {
		t.Parallel()
		srv := greenapitest.NewServer(t, testID, testToken)
		c := realClient(t, srv, 0)
		err := concurrently(3, func(i int) error {
			if i == 0 {
				_, err := c.GetStatusStatistic(t.Context(), "3EB0C767D097B7C7C030")
				return err
			}
			_, err := c.GetOutgoingStatuses(t.Context(), 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		calls := srv.Requests()
		for i := 1; i < len(calls); i++ {
			if gap := calls[i].Time.Sub(calls[i-1].Time); gap < time.Second {
				t.Errorf("GETs %v apart, want ≥ 1s", gap)
			}
		}
	})
	t.Run("waiting for the limiter ends with ctx", func(t *testing.T) {
		t.Parallel()
		srv := greenapitest.NewServer(t, testID, testToken)
		c := realClient(t, srv, 0.1) // one send per 10 s
		if _, err := c.SendTextStatus(t.Context(), text); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.SendTextStatus(ctx, text)
		if greenapi.CodeOf(err) != "timeout" || time.Since(start) > 5*time.Second {
			t.Errorf("err %v after %v", err, time.Since(start))
		}
		if n := srv.Count(""); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}
