// Package service is mediaprep as a long-running service: the HTTP API
// (uploads, job state, health, metrics, /media/ links), the inbox watcher
// that picks up files dropped into a bucket (listing it, and taking bucket
// events from a durable consumer), and the worker that runs a queued job
// through pipeline.Publisher, writing what each send answered to a local
// Journal before the job record. The queue itself is package queue.
//
// A job's states, and which part moves each edge, are drawn once in the
// README (section "Jobs", a Mermaid state diagram).
//
// Where things are:
//
//   - run.go: Config and Run, the whole service wired in named steps (open
//     storage, connect the queue, build the sender and the worker; serve
//     HTTP, run the inbox, replay the journal, follow deliveries, watch
//     the queue), the steps themselves in runsteps.go; rundir.go: this
//     process's locked temp folder.
//   - api.go: the API's settings and NewAPI; routes.go: routes, request
//     logging and error answers; auth.go, limits.go, connlimit.go: keys and
//     HTTP limits; health.go: /healthz and /readyz; status.go: GET of a job;
//     upload.go and spool.go: POST of a file (form fields, spooling to
//     disk; names by pipeline.DisplayName and SlugName); text.go: POST of
//     a text status; list.go: GET /v1/statuses, the job list; cancel.go:
//     DELETE /v1/statuses/{id}; events.go: job event streams and /v1/info.
//   - worker.go: the worker's settings and Handle (which way a delivery
//     goes); publish.go: a job (a file, or a text) through pipeline.Publisher;
//     sendguard.go: the at-most-once send guard and its ledger on the job
//     record; journal.go: the local journal of sends; outcome.go: posted or
//     failed, moving the source and writing error files; delivery.go:
//     following sent statuses; sweep.go: serve taking up the statuses
//     their sender stopped following (at start, then every minute);
//     schedule.go: jobs with a publish time (prepared and stored, then
//     waiting in the queue) and cleaning up after a canceled job;
//     links.go: links reused across deliveries;
//     stageclock.go: stage timings for metrics.
//   - accounts.go: which account a job posts for; accountset.go: the
//     clients, limiters and trackers of an accounts file; runaccounts.go:
//     Run's step that builds them.
//   - inbox.go: the inbox watcher; inboxscan.go: one bounded listing and
//     when a file has settled; inboxjobs.go: which job a dropped file is;
//     sidecar.go: a file's request from its sidecar or metadata;
//     inboxevents.go: bucket events.
//   - metrics.go, logctx.go, disk.go: metrics, per-job loggers, free space.
//
// Each part declares the few methods it needs of storage and of the queue
// next to itself, with the assertions that *storage.Store, *storage.Dir
// and *queue.Queue have them: APIBucket and APIJobs (api.go), InboxBucket
// and InboxJobs (inbox.go), WorkerBucket and WorkerJobs (worker.go).
package service
