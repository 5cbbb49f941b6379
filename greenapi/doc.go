// Package greenapi is a strict, typed client for Green API's WhatsApp
// status methods: sendMediaStatus, sendVoiceStatus, sendTextStatus,
// getOutgoingStatuses, getStatusStatistic and deleteStatus, and uploadFile,
// which hosts a file on Green API's media host (Config.MediaURL) for a
// link Green API can always fetch. It is the last
// step of the pipeline (sniff → prepare → store → verify link → post) and
// the only package that knows the vendor's API.
//
// # Validation
//
// Every status is checked before anything is sent, against the limits on
// Green API's pages and what is known to fail silently: caption ≤ 1024 and
// message ≤ 500 user-perceived characters (an emoji with its skin tone,
// ZWJ sequence or variation selector, or a flag, counts as one), a
// non-blank message, an absolute http(s) urlFile, a fileName with an
// extension (.mp3/.wav for voice, never .mp3 for media), #RRGGBB colors, a
// text status background that is not white (the text is drawn in white),
// one of the five fonts, and participants of the form 79001234567@c.us.
// Repeated participants are dropped; empty optional fields are left out of
// the JSON. A refused status is an *Error with Code "invalid_request".
//
// # Errors
//
// Every failure is an *Error carrying the method, the HTTP status, a stable
// Code, a message (server text trimmed to about 300 bytes) and the number
// of attempts. It unwraps to ErrInvalid, ErrPermanent, ErrRetryExhausted,
// ErrOutcomeUnknown or a context error; CodeOf reads the Code.
//
// # Retries
//
// Like minio-go, calls retry with full-jitter exponential backoff, and
// every wait ends early when ctx is done. 429 is retried honouring
// Retry-After (seconds or an HTTP date, capped at 60 s); 499, 500, 502,
// 503, 504 and network failures are retried up to Config.MaxAttempts
// requests in all (504 only for the GET methods and deleteStatus: for a send
// it means a gateway passed the request on and gave up waiting, so it is an
// unknown outcome, see below). 400, 401, 403, 466, other answers, and 500
// "exceeded max upload size" are not retried. Retries pass through the rate
// limiter too.
//
// # Sends are never repeated blindly
//
// A status send is not idempotent: sending it again after a lost answer
// may post the status twice, which is worse for the user than a clear
// error. So once a send request has been fully written to the connection
// (net/http/httptrace WroteRequest) and no answer comes back — client
// timeout, connection reset, unreadable body — the call is not retried and
// fails with Code "outcome_unknown" (ErrOutcomeUnknown); the message tells
// the user to look at getOutgoingStatuses before sending again. A failure
// before the request was written (connection refused, DNS) cannot have
// posted anything and is retried. The GET methods and deleteStatus are
// idempotent and are retried after timeouts as well. If the caller's ctx
// is canceled after a send was written, the Code is "canceled" and the
// error also matches ErrOutcomeUnknown.
//
// # Rate limits
//
// A Client belongs to one instance and keeps its calls within Green API's
// per-instance limits: the three sends together at most
// Config.RatePerSecond (default 5) in any one-second window, deleteStatus
// 10 and the GET methods 1 per second. The limiters are sliding windows
// (at most n requests in any window), widened by a few tens of milliseconds
// so network jitter cannot push n+1 arrivals into one second. All
// goroutines using a Client share them.
//
// # The token
//
// apiTokenInstance is part of the URL path, so a logged URL or a net/http
// error text (*url.Error holds the full URL) would leak it. The Client
// redacts it from every error, log line and DryRun output (Redact), strips
// *url.Error from the error chains it returns, and Config prints without
// it. Requests are logged at debug level with the method, the redacted URL,
// the status, the attempt and the duration.
//
// Package greenapitest provides an httptest stand-in for Green API that
// checks requests as strictly as the vendor's pages describe.
package greenapi
