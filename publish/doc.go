// Package publish runs `mediaprep post` and `mediaprep batch` over their
// files: it wires storage (a bucket, or a folder with Green API's
// uploadFile links), the link check and Green API into a
// pipeline.Publisher, posts several files at once, follows each posted
// status until it shows as sent, records it in the ledger, and prints a
// line (or a JSON object) per file in input order, with live bars on a
// terminal, then a summary (Runner). Statuses with a publish time go
// instead to a running service over its HTTP API, whose queue holds them
// until then (Service.Schedule). The command only turns its flags and
// environment into a Config and maps the returned error to an exit status.
package publish
