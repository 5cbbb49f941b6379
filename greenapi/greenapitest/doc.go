// Package greenapitest is an httptest stand-in for Green API's WhatsApp
// status methods, for tests of code that posts statuses.
//
// It checks every request as strictly as the vendor's pages describe and
// answers the way the vendor does: the path /waInstance{id}/{method}/{token}
// (a wrong idInstance answers 403, a wrong token 401), POST with
// Content-Type application/json, a UTF-8 body without BOM holding one JSON
// object with only the documented fields (anything else answers 400), the
// required fields, the caption and message limits, file name extensions,
// #RRGGBB colors, the five fonts and participants of the form
// 79001234567@c.us. It is stricter than the vendor in one way: an optional
// field sent as an empty string is refused, since a well-behaved client
// leaves it out.
//
// For media and voice statuses it fetches urlFile as Green API would (GET
// with Range: bytes=0-0, then a plain GET) and requires a 200 or 206 answer
// with a real media Content-Type of the right kind. A download link
// (application/octet-stream, Content-Disposition: attachment), a media
// status named .mp3, or a link that cannot be fetched still gets HTTP 200
// and an idMessage, exactly like the real API, but the status lands in
// Undelivered with the reason instead of Posted.
//
// uploadFile takes the raw file as the body (Content-Type required, not a
// form; GA-Filename when the type alone does not name the extension; at
// most 100 MB, SetUploadLimit for tests; over it answers 500 "exceeded max
// upload size" like the vendor), writes it to disk as it arrives, and
// answers a urlFile on the stand-in's own media host (MediaURL), which
// serves the file with the Content-Type of its extension. Uploads lists
// them. getOutgoingStatuses shows each accepted status as "sent" at once,
// or, after HoldStatuses(true), not until SetStatusMessage shows it (sent,
// delivered, read): a status that appears late or never.
//
// Faults (429 with Retry-After, 5xx, hangs, delays, "accepted but the answer
// was lost") are injected per method with Inject. Every request is recorded
// for rate assertions (Requests, MaxPerSecond), and every protocol violation
// the server refused is listed by Errors. A Server is safe for concurrent use.
package greenapitest
