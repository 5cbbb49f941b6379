// Package pipeline strings mediaprep's steps together. The recipe, in order:
//
//	sniff → prepare → store → verify link → post
//
// Sniffing and preparing are done by transcode; storing, verifying the link
// and posting to Green API join as later steps behind small interfaces that
// this package declares. The adapters (the prepare and batch commands, the
// HTTP endpoint, the bucket watcher) only call a Pipeline and map its errors'
// codes to exit statuses or HTTP answers.
package pipeline
