// Package queue is mediaprep's durable job queue on NATS JetStream.
//
// A job is two things: its record, JSON in a key-value bucket under its ID
// (Get, Update: any process can read and change it), and a message on a
// work-queue stream whose payload is that ID. Enqueue writes the record,
// then publishes the message. Every worker, in every process, pulls from
// one shared durable consumer (Work); a message is acked when its handler
// is done, put back with a delay for RetryLater, terminated when the job
// failed for good, and put back at once when the worker shuts down. A
// job whose message was delivered MaxDeliver times without an answer (the
// worker died each time) is marked failed, from the server's advisory, so
// that no job stays stuck.
//
// A job with a publish time waits in JetStream itself (schedule.go): its
// handler returns WaitUntil, and Work hands the message back with a delay
// (at most MaxWait at a time, never counted against MaxDeliver); Wake puts
// it on the stream again at once. ParsePublishAt and PublishAt read a
// publish time, CheckPublishAt bounds it.
//
// Index keeps every job record in memory, fed by a watch of the bucket,
// so that List pages the jobs (newest first, filtered) and Count counts
// them by state without asking the server; Watch reports the writes of
// chosen jobs as they happen.
//
// Enqueue takes a job id once (ErrExists after), so an id made from what a
// job is for (an object in an inbox) makes it a job only once, however many
// processes see it. Another bucket keeps Limiter, a rate limit kept by all
// processes together.
//
// On a NATS cluster the stream and the buckets keep Config.Replicas copies
// (3 by default when the cluster can place them), and never fewer than an
// operator gave them. Every request is bounded by a few seconds whatever
// the caller's deadline, so that one sent to a node that died is retried
// on another instead of hanging. ConsumeEvents reads bucket event
// notifications through a durable consumer every process shares.
//
// StartEmbedded runs a NATS server with JetStream inside the process, so
// that one mediaprep needs nothing else; with a listen address, other
// processes can join it. It locks its store: a second server on the same
// folder is refused (ErrStoreInUse).
package queue
