package greenapi_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

// countingWaiter counts Wait calls and fails once fail is set.
type countingWaiter struct {
	n    atomic.Int32
	fail error
}

func (w *countingWaiter) Wait(ctx context.Context) error {
	w.n.Add(1)
	return w.fail
}

func TestSendLimiterWaitedOnBeforeEverySendAttempt(t *testing.T) {
	srv := greenapitest.NewServer(t, testID, testToken)
	srv.Inject("sendTextStatus", greenapitest.Fault{Status: 429})
	w := &countingWaiter{}
	c, _ := newClient(t, srv.URL(), func(cfg *greenapi.Config) { cfg.SendLimiter = w })
	if _, err := c.SendTextStatus(context.Background(), greenapi.TextStatus{Message: "hi", BackgroundColor: "#228B22"}); err != nil {
		t.Fatal(err)
	}
	if got := w.n.Load(); got != 2 {
		t.Errorf("shared limiter waited on %d times for a 429 then a 200, want 2", got)
	}
	if _, err := c.GetOutgoingStatuses(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if got := w.n.Load(); got != 2 {
		t.Errorf("a GET waited on the send limiter (%d waits)", got)
	}
}

func TestSendLimiterFailureSendsNothing(t *testing.T) {
	srv := greenapitest.NewServer(t, testID, testToken)
	w := &countingWaiter{fail: errors.New("nats: connection closed " + testToken)}
	c, _ := newClient(t, srv.URL(), func(cfg *greenapi.Config) { cfg.SendLimiter = w })
	_, err := c.SendTextStatus(context.Background(), greenapi.TextStatus{Message: "hi", BackgroundColor: "#228B22"})
	if greenapi.CodeOf(err) != greenapi.CodeNetwork {
		t.Fatalf("err = %v, want code %s", err, greenapi.CodeNetwork)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("token in error: %v", err)
	}
	if n := srv.Count("sendTextStatus"); n != 0 {
		t.Errorf("%d requests sent while the limiter was down", n)
	}
}

func TestDeleteLimiterWaitedOnBeforeDelete(t *testing.T) {
	srv := greenapitest.NewServer(t, testID, testToken)
	w := &countingWaiter{}
	c, _ := newClient(t, srv.URL(), func(cfg *greenapi.Config) { cfg.DeleteLimiter = w })
	if err := c.DeleteStatus(context.Background(), "BAE5F4886F6F2D05"); err != nil {
		t.Fatal(err)
	}
	if got := w.n.Load(); got != 1 || srv.Count("deleteStatus") != 1 {
		t.Errorf("delete limiter waited on %d times, %d deleteStatus requests; want 1 and 1", got, srv.Count("deleteStatus"))
	}
}
