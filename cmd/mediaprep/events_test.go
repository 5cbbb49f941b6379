package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

// TestServeBucketEvents: versitygw publishes its bucket events to the
// test's NATS; serve, which lists the inbox only once an hour, picks up
// drops through the events alone, keys that need escaping included, and
// posts each file once. versitygw (v1.8.0) puts keys in its events as they
// are, not URL-escaped: a "+" in one is a plus sign.
func TestServeBucketEvents(t *testing.T) {
	c := newCluster(t, clusterOpts{green: true, natsShare: true})
	const subject = "mediaprep.test.bucket-events"

	// A plain subscriber first: do events arrive at all, and how do they
	// look?
	nc, err := nats.Connect(c.nats.ClientURL(), nats.Token(testNATSToken))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var (
		mu     sync.Mutex
		events [][]byte
	)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, m.Data)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }() // the connection goes with the test
	received := func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(events)
	}

	c.s3 = s3test.StartWith(t, s3test.Options{Args: []string{
		"--event-nats-url", strings.Replace(c.nats.ClientURL(), "nats://", "nats://"+testNATSToken+"@", 1), "--event-nats-topic", subject,
	}})
	c.env = append(c.env, c.s3.Env()...)
	// versitygw publishes a test event when it connects.
	testutil.WaitFor(t, 10*time.Second, "versitygw's test event", func() bool { return len(received()) > 0 })

	p, _ := c.serve("serve", []string{"MEDIAPREP_INBOX_POLL=1h", "MEDIAPREP_S3_EVENTS_SUBJECT=" + subject}, "--workers", "1")
	testutil.WaitFor(t, 10*time.Second, "serve to listen to bucket events", func() bool {
		return logField(p.out.String(), "queue: consuming bucket events", "subject") == subject
	})

	// records returns the eventName and key of every record published.
	type record struct{ name, key string }
	records := func() []record {
		var recs []record
		for _, data := range received() {
			var ev struct {
				Records []struct {
					EventName string `json:"eventName"`
					S3        struct {
						Object struct {
							Key string `json:"key"`
						} `json:"object"`
					} `json:"s3"`
				}
			}
			if json.Unmarshal(data, &ev) != nil {
				continue
			}
			for _, r := range ev.Records {
				recs = append(recs, record{r.EventName, r.S3.Object.Key})
			}
		}
		return recs
	}
	// created is the records of objects created under inbox/.
	created := func() []record {
		var recs []record
		for _, r := range records() {
			if strings.HasPrefix(r.key, "inbox/") && strings.HasPrefix(r.name, "s3:ObjectCreated:") {
				recs = append(recs, r)
			}
		}
		return recs
	}

	tests := []struct {
		key, processed string
	}{
		{"inbox/Straße und Meer+1.jpg", "processed/Straße und Meer+1.jpg"},
		{"inbox/zweite Kopie (2).jpg", "processed/zweite Kopie (2).jpg"},
	}
	for i, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			c.drop(tt.key, sample("sample.jpg"), nil)
			testutil.WaitFor(t, 10*time.Second, "the event of "+tt.key, func() bool { return len(created()) > i })
			rec := created()[i]
			t.Logf("versitygw event: eventName %q, key %q", rec.name, rec.key)
			// A file is moved to processed/ once it is posted.
			testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("%s to be posted and moved (event key %q)", tt.key, rec.key), func() bool {
				return slices.Contains(c.keys("processed/"), tt.processed)
			})
		})
	}

	// Nothing is taken twice, by a late event check or otherwise: the
	// counts are taken once the durable consumer has handled (acked) every
	// event published so far.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "every bucket event handled", func() bool {
		stream, err := js.Stream(t.Context(), "MEDIAPREP_EVENTS")
		if err != nil {
			return false
		}
		sinfo, err := stream.Info(t.Context())
		if err != nil {
			return false
		}
		cons, err := stream.Consumer(t.Context(), "inbox")
		if err != nil {
			return false
		}
		info, err := cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= sinfo.State.LastSeq
	})
	posted := c.green.Posted()
	seen := map[string]bool{}
	for _, s := range posted {
		seen[s.URLFile] = true
	}
	if len(posted) != 2 || len(seen) != 2 {
		t.Errorf("%d posts of %d distinct links, want 2 and 2", len(posted), len(seen))
	}
	if got := c.keys("inbox/"); len(got) != 0 {
		t.Errorf("inbox still holds %v", got)
	}
	if testing.Verbose() {
		for _, r := range records() {
			t.Logf("event %s %q", r.name, r.key)
		}
	}
	want := []string{tests[0].processed, tests[1].processed}
	slices.Sort(want)
	if got := c.keys("processed/"); !slices.Equal(got, want) {
		t.Errorf("processed/ = %v, want %v", got, want)
	}
}
