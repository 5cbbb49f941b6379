package service

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
)

// Account is one Green API account as the worker posts for it: its own
// client, link uploader and delivery tracker, so that a job's status goes
// to the number of the job's account and to no other.
type Account struct {
	Name    string
	Send    pipeline.Sender   // required
	Linker  pipeline.Linker   // nil: links come from the bucket
	Tracker *delivery.Tracker // nil: posted statuses are not followed
}

// Accounts finds the account a job names.
type Accounts interface {
	// Account returns the account called name ("" means "default").
	Account(name string) (Account, bool)
}

// AccountMap is Accounts over a fixed map keyed by name.
type AccountMap map[string]Account

// Account implements Accounts.
func (m AccountMap) Account(name string) (Account, bool) {
	if name == "" {
		name = defaultAccount
	}
	a, ok := m[name]
	return a, ok && a.Send != nil
}

// forJob returns the worker that posts job: w itself when no Accounts
// are configured (the job must then name none, or "default"), else a copy
// using the clients of the job's account, logging its name. A job naming
// an account this worker does not know gets an unknown_account error (and
// a copy that follows nothing): it fails, never posting for another
// account.
func (w *Worker) forJob(job queue.Job) (*Worker, error) {
	name := job.Account
	if name == "" {
		name = defaultAccount
	}
	failed := &Worker{cfg: w.cfg, log: w.log.With("account", name), account: name}
	failed.cfg.Linker, failed.cfg.Tracker = nil, nil // it posts nothing and follows nothing
	if w.cfg.Accounts == nil {
		if name == defaultAccount {
			return w, nil
		}
		return failed, &jobError{code: codeUnknownAccount, msg: fmt.Sprintf("the job names the account %s; this service posts for the default account only (set MEDIAPREP_ACCOUNTS_FILE)", strconv.Quote(name))}
	}
	a, ok := w.cfg.Accounts.Account(name)
	if !ok {
		return failed, &jobError{code: codeUnknownAccount, msg: fmt.Sprintf("the job names the account %s, which is not in this service's accounts; nothing was posted", strconv.Quote(name))}
	}
	cp := &Worker{cfg: w.cfg, log: w.log.With("account", name), account: name}
	cp.cfg.Send, cp.cfg.Linker, cp.cfg.Tracker = a.Send, a.Linker, a.Tracker
	return cp, nil
}

// accountOf is the account of a file dropped at key: the one its sidecar
// (or x-amz-meta-account) names, else its inbox folder's when the first
// folder under the inbox is named after an account (inbox/<account>/…),
// else the default. A sidecar naming another account than the folder's
// is a problem (the job fails with it): the file was dropped for one
// number and described for another.
func (in *Inbox) accountOf(key, given string) (account, problem string) {
	folder := ""
	if rel, ok := strings.CutPrefix(key, in.cfg.Layout.Inbox); ok {
		if dir, _, nested := strings.Cut(rel, "/"); nested && slices.Contains(in.cfg.Accounts, dir) {
			folder = dir
		}
	}
	switch {
	case given == "":
		return folder, ""
	case folder != "" && given != folder:
		return given, fmt.Sprintf("the file is in the folder of the account %s but its sidecar names the account %s; move it or fix the sidecar", strconv.Quote(folder), strconv.Quote(given))
	}
	return given, ""
}
