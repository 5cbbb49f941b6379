package main

import "github.com/mediaprep/mediaprep/publish"

// The output types moved to package publish; the tests that decode
// output lines keep their names for them.
type (
	errorBody       = publish.Error
	scheduledResult = publish.Scheduled
)
