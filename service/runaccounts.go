package service

import (
	"context"
	"sync"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
)

// buildAccounts makes the clients of Config.Accounts (NewAccounts); the
// account "default" is the single-instance sender built before, with
// linker, when there is one. Without accounts it does nothing: one
// instance, as before.
func (r *runner) buildAccounts(linker pipeline.Linker) error {
	if r.cfg.Accounts == nil {
		return nil
	}
	timeout := r.cfg.Green.HTTPClient
	acfg := AccountsConfig{
		Set:     r.cfg.Accounts,
		Default: Account{Name: "default", Send: r.send, Linker: linker, Tracker: r.tracker},
		Queue:   r.q, DryRun: r.cfg.DryRun, GreenLinks: r.cfg.GreenLinks, DeliveryWindow: r.cfg.DeliveryWindow,
		Metrics: r.metrics, Logger: r.log,
	}
	if timeout != nil {
		acfg.HTTPTimeout = timeout.Timeout
	}
	m, trackers, err := NewAccounts(acfg)
	if err != nil {
		return settingErr(err)
	}
	r.accounts, r.accountTrackers = m, trackers
	r.log.Info("accounts", "names", r.cfg.Accounts.Names())
	return nil
}

// workerAccounts is WorkerConfig.Accounts: nil (not an empty map) without
// accounts, so that the worker posts with its single sender.
func (r *runner) workerAccounts() Accounts {
	if r.accounts == nil {
		return nil
	}
	return r.accounts
}

// accountDeleters are the clients that delete each account's posted
// statuses (DELETE /v1/statuses/{id}); nil without accounts.
func (r *runner) accountDeleters() map[string]StatusDeleter {
	if r.accounts == nil {
		return nil
	}
	m := map[string]StatusDeleter{}
	for name, a := range r.accounts {
		if c, ok := a.Send.(*greenapi.Client); ok {
			m[name] = c
		}
	}
	return m
}

// accountNames names the accounts for the API and the inbox.
func (r *runner) accountNames() []string {
	if r.cfg.Accounts == nil {
		return nil
	}
	return r.cfg.Accounts.Names()
}

// runAccountTrackers follows the statuses of every account NewAccounts
// made (all but a single-instance default, whose tracker run starts
// itself) until ctx ends.
func (r *runner) runAccountTrackers(ctx context.Context, wg *sync.WaitGroup) {
	for _, t := range r.accountTrackers {
		wg.Go(func() { t.Run(ctx) })
	}
}
