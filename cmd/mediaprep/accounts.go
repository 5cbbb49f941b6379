package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/accounts"
	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/service"
)

// accountsFileEnv names the accounts file (see package accounts).
const accountsFileEnv = "MEDIAPREP_ACCOUNTS_FILE"

// addAccountFlag adds --account to post and batch.
func addAccountFlag(fl *pflag.FlagSet, s *settings) {
	fl.StringVar(&s.account, "account", "", "post for this account of "+accountsFileEnv+" instead of the MEDIAPREP_GREENAPI_* instance (\"default\")")
}

// loadAccounts reads the accounts file, with the single-instance settings
// as the account "default" when they are set; all problems at once.
func (s *settings) loadAccounts(getenv func(string) string) (*accounts.Set, error) {
	return accounts.Load(accounts.Config{
		File: getenv(accountsFileEnv),
		Default: accounts.Account{APIURL: s.greenURL, MediaURL: s.mediaURL, IDInstance: s.instance,
			Token: getenv("MEDIAPREP_GREENAPI_TOKEN")},
		LookupEnv: func(name string) (string, bool) { v := getenv(name); return v, v != "" },
	})
}

// applyAccount points cfg at --account's instance, when one other than
// "default" is given: an unknown name is an error listing the known ones.
func (s *settings) applyAccount(cfg *greenapi.Config, getenv func(string) string) error {
	if s.account == "" || s.account == accounts.Default {
		return nil
	}
	if getenv(accountsFileEnv) == "" {
		return fmt.Errorf("--account %s: set %s to the accounts file that names it", s.account, accountsFileEnv)
	}
	set, err := s.loadAccounts(getenv)
	if err != nil {
		return err
	}
	a, ok := set.Get(s.account)
	if !ok {
		return fmt.Errorf("unknown_account: --account %s: %s names %v", s.account, getenv(accountsFileEnv), set.Names())
	}
	cfg.APIURL, cfg.MediaURL, cfg.IDInstance, cfg.Token = a.APIURL, a.MediaURL, a.IDInstance, a.Token
	return nil
}

// serviceAccounts are the accounts serve and worker post for, when
// MEDIAPREP_ACCOUNTS_FILE is set.
type serviceAccounts struct {
	names    []string
	byName   service.AccountMap
	trackers []*delivery.Tracker // to run
}

// accounts reads MEDIAPREP_ACCOUNTS_FILE and makes its clients
// (service.NewAccounts); the account "default" is def, the single-instance
// wiring. Without the file it returns nil: one instance, as before.
func (f *serveFlags) accounts(getenv func(string) string, q *queue.Queue, m *service.Metrics, log *slog.Logger,
	def service.Account, greenLinks bool) (*serviceAccounts, error) {
	if getenv(accountsFileEnv) == "" {
		return nil, nil
	}
	set, err := f.loadAccounts(getenv)
	if err != nil {
		return nil, usageError{err}
	}
	timeout := greenapi.DefaultTimeout
	if gcfg, err := f.greenConfig(getenv); err == nil && gcfg.HTTPClient != nil {
		timeout = gcfg.HTTPClient.Timeout
	}
	byName, trackers, err := service.NewAccounts(service.AccountsConfig{Set: set, Default: def, Queue: q,
		HTTPTimeout: timeout, DryRun: f.dryRun, GreenLinks: greenLinks, DeliveryWindow: f.deliveryWin, Metrics: m, Logger: log})
	if err != nil {
		return nil, usageError{err}
	}
	log.Info("accounts", "names", set.Names(), "file", getenv(accountsFileEnv))
	return &serviceAccounts{names: set.Names(), byName: byName, trackers: trackers}, nil
}

// worker is the service.Accounts of the workers; nil without a file.
func (sa *serviceAccounts) worker() service.Accounts {
	if sa == nil {
		return nil
	}
	return sa.byName
}

// list names the accounts for the API and the inbox; nil without a file.
func (sa *serviceAccounts) list() []string {
	if sa == nil {
		return nil
	}
	return sa.names
}

// run runs the delivery trackers of the accounts until ctx ends.
func (sa *serviceAccounts) run(ctx context.Context, wg *sync.WaitGroup) {
	if sa == nil {
		return
	}
	for _, t := range sa.trackers {
		wg.Go(func() { t.Run(ctx) })
	}
}
