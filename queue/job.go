package queue

import "time"

// State is where a job is. A job goes queued → preparing → storing →
// posting → posted, or ends failed with an error code and message. A
// retried job goes back to queued. A job with a publish time goes queued →
// preparing → storing → scheduled, waits there, then on to posting. A job
// not yet posting may be canceled; a posted one deleted (deleteStatus).
type State string

// The states of a job.
const (
	StateQueued    State = "queued"
	StatePreparing State = "preparing"
	StateStoring   State = "storing"
	StatePosting   State = "posting"
	StatePosted    State = "posted"
	StateFailed    State = "failed"
	StateScheduled State = "scheduled" // prepared and stored; waits for PublishAt
	StateCanceled  State = "canceled"  // canceled before it was posted; never posts
	StateDeleted   State = "deleted"   // posted, then deleted with deleteStatus
)

// Final reports whether s is posted, failed, canceled or deleted: a job in
// a final state is never sent (again).
func (s State) Final() bool {
	return s == StatePosted || s == StateFailed || s == StateCanceled || s == StateDeleted
}

// Origin says where a job's source came from.
type Origin string

// The origins of a job.
const (
	OriginUpload Origin = "upload" // POST /v1/statuses
	OriginInbox  Origin = "inbox"  // dropped under the bucket's inbox prefix
)

// Request is what was asked for with a job: its status fields and
// preparation choices, as given with the upload, in a sidecar or in
// x-amz-meta-* headers. It is stored as given; the worker turns Crop and
// VideoFit into a transcode.Options when it prepares the source.
type Request struct {
	Caption         string   `json:"caption,omitempty"`
	Participants    []string `json:"participants,omitempty"`
	BackgroundColor string   `json:"backgroundColor,omitempty"`
	Crop            string   `json:"crop,omitempty"`     // transcode.CropMode
	VideoFit        string   `json:"videoFit,omitempty"` // transcode.Fit
	// Text and Font make a text status (sendTextStatus); a job with Text
	// has no Source.
	Text string `json:"text,omitempty"`
	Font string `json:"font,omitempty"`
}

// Job is one source file (or one text status) with its Request, and what
// became of it. It is stored as JSON in a JetStream key-value bucket under
// its ID, so any node can read it.
type Job struct {
	ID      string  `json:"id"`
	State   State   `json:"state"`
	Origin  Origin  `json:"origin"`
	Source  string  `json:"source,omitempty"` // object key of the raw file; empty for a text status
	Name    string  `json:"name,omitempty"`   // the file's own name (for the fileName Green API shows)
	Size    int64   `json:"size,omitempty"`   // bytes of the source
	Request Request `json:"options"`          // "options" in stored records and the API's job JSON
	// PublishAt, when set, is when the status is to be posted: the job is
	// prepared and stored at once, then waits (StateScheduled) until then.
	// A time in the past means now.
	PublishAt time.Time `json:"publishAt,omitzero"`
	// Account names the Green API account (accounts.Set) the status is
	// posted for; empty means the default account.
	Account string `json:"account,omitempty"`
	// Invalid is a problem found when the job was made (a broken
	// sidecar): the worker fails the job with it at once.
	Invalid string `json:"invalid,omitempty"`

	// Filled in as the job runs.
	Attempts    int       `json:"attempts,omitempty"` // deliveries so far
	Key         string    `json:"key,omitempty"`      // the prepared object
	URL         string    `json:"url,omitempty"`      // its direct link
	LinkExpires time.Time `json:"linkExpires,omitzero"`
	Method      string    `json:"method,omitempty"` // sendMediaStatus, sendVoiceStatus, sendTextStatus
	IDMessage   string    `json:"idMessage,omitempty"`
	DryRun      bool      `json:"dryRun,omitempty"`
	// OutcomeUnknown: the send was written and no answer came; the
	// status may have been posted, so the job is never sent again.
	OutcomeUnknown bool      `json:"outcomeUnknown,omitempty"`
	PostedAt       time.Time `json:"postedAt,omitzero"`
	// LinkSHA256 is the prepared content URL points to when the link came
	// from uploadFile: a later delivery reuses URL for that content until
	// LinkExpires instead of uploading again.
	LinkSHA256 string `json:"linkSha256,omitempty"`
	// Delivery is how far the posted status got by getOutgoingStatuses:
	// pending, sent, delivered, read or not_confirmed; DeliveryNote says
	// what was seen (and how an outcome_unknown job was resolved).
	Delivery     string `json:"delivery,omitempty"`
	DeliveryNote string `json:"deliveryNote,omitempty"`
	MovedTo      string `json:"movedTo,omitempty"` // where the source went (processed/… or failed/…)
	// Moving is where the source is being moved, written before the move
	// so that a redelivery finishes the same move instead of another.
	Moving string `json:"moving,omitempty"`
	// PostingBy names the delivery that is sending the status: a second
	// delivery running at the same time (its worker looked dead but was
	// not) must not send too.
	PostingBy string    `json:"postingBy,omitempty"`
	PostingAt time.Time `json:"postingAt,omitzero"` // when PostingBy began

	CanceledAt time.Time `json:"canceledAt,omitzero"`
	DeletedAt  time.Time `json:"deletedAt,omitzero"`

	ErrorCode string `json:"errorCode,omitempty"`
	Error     string `json:"error,omitempty"`

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}
