// Package pipeline strings mediaprep's steps together. The recipe, in order:
//
//	sniff → prepare → store → verify link → post
//
// Pipeline.Prepare runs the first two (transcode does the work). Publisher
// runs them all, as the list of steps in Publisher.Publish shows: sniff,
// identify (the content digest, object key and post id), claim (the
// ledger), store (storage), link (a direct link, checked as Green API will
// fetch it), send (greenapi), record; a text status has nothing to sniff,
// store or link, and goes text, claim, send, record. Each part it uses is
// a small interface declared here (Preparer, Store, LinkChecker, Linker,
// Sender, Ledger) with a compile-time assertion tying it to its
// implementation, so tests can use fakes and the commands can swap in
// DryRunSender. FileLedger is the batch command's ledger: what was
// posted, so a rerun posts nothing twice.
//
// names.go holds the two ways a file's name is used, for every package: the
// name a person sees (DisplayName) and the ASCII name in keys and links
// (Slug, SlugName).
//
// The adapters (package publish for the prepare, post and batch commands;
// the service's worker for uploads and dropped files) only build jobs,
// call a Pipeline or Publisher, and map CodeOf their errors to exit
// statuses, job records or error files.
package pipeline
