// Package publish runs the commands that work over files and statuses:
// `mediaprep post` and `mediaprep batch` (Runner: it wires storage (a
// bucket, or a folder with Green API's uploadFile links), the link check
// and Green API into a pipeline.Publisher, posts several files at once,
// follows each posted status until it shows as sent, records it in the
// ledger, and prints a line (or a JSON object) per file in input order,
// with live bars on a terminal, then a summary), `mediaprep prepare`
// (Prepare, the same without posting) and `mediaprep statuses` (Statuses:
// list, statistic, delete). Statuses with a publish time go instead to a
// running service over its HTTP API, whose queue holds them until then
// (Service.Schedule); deleting takes job ids of that service too. The
// commands only turn their flags and environment into values and map the
// returned ErrFailed and ErrInterrupted to an exit status.
package publish
