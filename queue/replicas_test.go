package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/queue/queuetest"
)

// streamReplicas reads the copies of a stream and of its consumers.
func streamReplicas(t *testing.T, js jetstream.JetStream, name string) int {
	t.Helper()
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Config.Replicas
}

func TestReplicasSingleServerIsOne(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	for _, s := range []string{"MEDIAPREP_JOBS", "KV_mediaprep_jobs", "KV_mediaprep_limits"} {
		if n := streamReplicas(t, q.js, s); n != 1 {
			t.Errorf("%s: %d replicas on a single server, want 1", s, n)
		}
	}
}

func TestReplicasClusterDefaultIsThree(t *testing.T) {
	c := queuetest.StartCluster(t, testLogger(t))
	nc := c.Connect()
	q, err := Open(t.Context(), nc, Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"MEDIAPREP_JOBS", "KV_mediaprep_jobs", "KV_mediaprep_limits"} {
		if n := streamReplicas(t, q.js, s); n != 3 {
			t.Errorf("%s: %d replicas on a 3-node cluster, want 3", s, n)
		}
	}
	ci, err := q.cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ci.Cluster == nil || len(ci.Cluster.Replicas)+1 != 3 {
		t.Errorf("consumer: cluster info %+v, want a leader and 2 replicas", ci.Cluster)
	}
}

func TestReplicasOperatorsBiggerStreamIsKept(t *testing.T) {
	c := queuetest.StartCluster(t, testLogger(t))
	nc := c.Connect()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The operator makes the stream and a bucket R3 by hand.
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "MEDIAPREP_JOBS", Subjects: []string{"mediaprep.jobs.*"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "mediaprep_limits", Storage: jetstream.FileStorage, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	for _, replicas := range []int{0, 1} { // the default, then a process told 1
		t.Run(fmt.Sprint("Replicas=", replicas), func(t *testing.T) {
			q, err := Open(t.Context(), nc, Config{Replicas: replicas, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if q.Replicas() != 3 {
				t.Errorf("Replicas() = %d", q.Replicas())
			}
			for _, s := range []string{"MEDIAPREP_JOBS", "KV_mediaprep_limits"} {
				if n := streamReplicas(t, js, s); n != 3 {
					t.Errorf("%s: scaled to %d replicas, want the operator's 3 kept", s, n)
				}
			}
		})
	}
	// And the job bucket, which mediaprep made with 1 when told so, grows
	// to 3 with the default.
	if _, err := Open(t.Context(), nc, Config{Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	if n := streamReplicas(t, js, "KV_mediaprep_jobs"); n != 3 {
		t.Errorf("KV_mediaprep_jobs: %d replicas after a default start, want 3", n)
	}
}

func TestReplicasMismatchIsReported(t *testing.T) {
	nc, js := serverJetStream(t)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "MEDIAPREP_JOBS", Subjects: []string{"mediaprep.jobs.*"},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), nc, Config{Logger: testLogger(t)})
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Open on a limits stream: %v, want ErrMismatch", err)
	}
	s, _ := js.Stream(t.Context(), "MEDIAPREP_JOBS")
	if r := s.CachedInfo().Config.Retention; r != jetstream.LimitsPolicy {
		t.Errorf("the operator's stream was rewritten: retention %s", r)
	}
}

// TestClusterLeaderLossLosesNothing stops the node leading the jobs stream
// while jobs are queued and running: every job still ends posted, and
// none is sent twice.
func TestClusterLeaderLossLosesNothing(t *testing.T) {
	c := queuetest.StartCluster(t, testLogger(t))
	producer, err := Open(t.Context(), c.Connect(), Config{AckWait: 2 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	worker, err := Open(t.Context(), c.Connect(), Config{AckWait: 2 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	sends := map[string]int{}
	errAlready := errors.New("already sent")
	// Like service.Worker: take the job for sending in its record, send,
	// record the send; a job whose record has its send is not sent again.
	h := func(ctx context.Context, d *Delivery) error {
		_, err := worker.Update(ctx, d.Job.ID, func(j *Job) error {
			if j.IDMessage != "" {
				return errAlready
			}
			j.State = StatePosting
			return nil
		})
		if errors.Is(err, errAlready) {
			return nil
		}
		if err != nil {
			return RetryLater(err, 100*time.Millisecond)
		}
		mu.Lock()
		sends[d.Job.ID]++
		mu.Unlock()
		for {
			_, err := worker.Update(context.WithoutCancel(ctx), d.Job.ID, func(j *Job) error {
				j.IDMessage, j.State = "sent-"+j.ID, StatePosted
				return nil
			})
			if err == nil {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	startWork(t, worker, WorkOptions{Concurrency: 4}, h)

	const n = 40
	var ids []string
	enqueue := func(i int) {
		id := fmt.Sprintf("job-%02d", i)
		ids = append(ids, id)
		for {
			_, err := producer.Enqueue(t.Context(), Job{ID: id, Origin: OriginUpload})
			if errors.Is(err, ErrExists) {
				// Stored before an answer was lost: queue it if its
				// message is missing, as the inbox does.
				_, err = producer.Requeue(t.Context(), id)
			}
			if err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := range n / 2 {
		enqueue(i)
	}
	info, err := producer.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("stream info names no leader: %+v", info.Cluster)
	}
	leader := info.Cluster.Leader
	c.Stop(leader)
	for i := n / 2; i < n; i++ {
		enqueue(i)
	}
	// Should a job never be posted, say where it was left: its record,
	// whether the stream still holds its message, the consumer's state.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx := context.Background()
		for _, id := range ids {
			j, err := producer.Get(ctx, id)
			if err == nil && j.State == StatePosted {
				continue
			}
			_, merr := producer.stream.GetLastMsgForSubject(ctx, producer.subject(id))
			t.Logf("job %s: record %+v (%v); its message: %v", id, j, err, merr)
		}
		if ci, err := producer.cons.Info(ctx); err == nil {
			t.Logf("consumer: pending %d, ack pending %d, redelivered %d, delivered %+v, ack floor %+v, cluster %+v",
				ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.Delivered, ci.AckFloor, ci.Cluster)
		}
	})
	for _, id := range ids {
		var j Job
		testutil.WaitFor(t, patience, "job "+id+" to be posted", func() bool {
			j, _ = producer.Get(t.Context(), id) // errors while a leader is elected
			return j.State == StatePosted
		})
		if j.IDMessage != "sent-"+id {
			t.Errorf("job %s: idMessage %q", id, j.IDMessage)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if sends[id] != 1 {
			t.Errorf("job %s sent %d times, want 1", id, sends[id])
		}
	}
	if len(ids) != n {
		t.Errorf("%d jobs queued, want %d", len(ids), n)
	}
}

// TestReplicasOldConsumerOpens: a queue made by an earlier mediaprep (its
// consumer with Replicas 1 written out) opens.
func TestReplicasOldConsumerOpens(t *testing.T) {
	nc, js := serverJetStream(t)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "MEDIAPREP_JOBS", Subjects: []string{"mediaprep.jobs.*"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, MaxMsgs: 10000, Discard: jetstream.DiscardNew, Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateConsumer(t.Context(), "MEDIAPREP_JOBS", jetstream.ConsumerConfig{Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: 10, MaxAckPending: -1, Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), nc, Config{Logger: testLogger(t)}); err != nil {
		t.Fatalf("Open over an earlier consumer: %v", err)
	}
}
