package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/accounts"
	"github.com/mediaprep/mediaprep/greenapi"
)

// accountsFileEnv names the accounts file (see package accounts).
const accountsFileEnv = "MEDIAPREP_ACCOUNTS_FILE"

// addAccountFlag adds --account to post and batch.
func addAccountFlag(fl *pflag.FlagSet, s *settings) {
	fl.StringVar(&s.account, "account", "", "post for this account of "+accountsFileEnv+" instead of the MEDIAPREP_GREENAPI_* instance (\"default\")")
}

// loadAccounts reads the accounts file, with the single-instance settings
// as the account "default" when they are set; all problems at once. No
// file: nil.
func (s *settings) loadAccounts(ev *env) (*accounts.Set, error) {
	if !ev.set(accountsFileEnv) {
		return nil, nil
	}
	return accounts.Load(accounts.Config{
		File: ev.str(accountsFileEnv, ""),
		Default: accounts.Account{APIURL: s.greenURL, MediaURL: s.mediaURL, IDInstance: s.instance,
			Token: ev.str("MEDIAPREP_GREENAPI_TOKEN", "")},
		LookupEnv: func(name string) (string, bool) { return ev.str(name, ""), ev.set(name) },
	})
}

// applyAccount points cfg at --account's instance, when one other than
// "default" is given: an unknown name is an error listing the known ones.
func (s *settings) applyAccount(cfg *greenapi.Config, ev *env) error {
	if s.account == "" || s.account == accounts.Default {
		return nil
	}
	set, err := s.loadAccounts(ev)
	switch {
	case err != nil:
		return err
	case set == nil:
		return fmt.Errorf("--account %s: set %s to the accounts file that names it", s.account, accountsFileEnv)
	}
	a, ok := set.Get(s.account)
	if !ok {
		return fmt.Errorf("unknown_account: --account %s: %s names %v", s.account, ev.str(accountsFileEnv, ""), set.Names())
	}
	cfg.APIURL, cfg.MediaURL, cfg.IDInstance, cfg.Token = a.APIURL, a.MediaURL, a.IDInstance, a.Token
	return nil
}
