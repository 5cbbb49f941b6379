package service

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/accounts"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/queue"
)

// TestAccountsWithoutDefault: with an accounts file and no single
// instance (no Green.IDInstance) serve makes no default client and no
// default tracker, and a job naming no account finds none
// (unknown_account); an account the file itself names "default" is made
// from the file like the others, and posts to its own instance.
func TestAccountsWithoutDefault(t *testing.T) {
	q := embeddedQueue(t, queue.Config{})
	shop := greenapitest.NewServer(t, "1101000001", "tok-shop")
	def := greenapitest.NewServer(t, "2202000002", "tok-def")
	build := func(body string) *runner {
		t.Helper()
		file := filepath.Join(t.TempDir(), "accounts.json")
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"SHOP_TOKEN": "tok-shop", "DEF_TOKEN": "tok-def"}
		set, err := accounts.Load(accounts.Config{File: file, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if err != nil {
			t.Fatal(err)
		}
		r := &runner{cfg: Config{Accounts: set, DeliveryWindow: time.Minute}, q: q, log: slog.New(slog.DiscardHandler)}
		if err := r.buildSender(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := r.buildAccounts(nil); err != nil {
			t.Fatal(err)
		}
		return r
	}
	shopOnly := `{"accounts": [{"name": "shop", "apiUrl": "` + shop.URL() + `", "idInstance": "1101000001", "tokenEnv": "SHOP_TOKEN"}]}`
	r := build(shopOnly)
	if r.send != nil || r.tracker != nil {
		t.Errorf("no default account, yet a default client %v and tracker %v", r.send, r.tracker)
	}
	if _, ok := r.accounts.Account(""); ok {
		t.Error("a job naming no account found one")
	}
	if a, ok := r.accounts.Account("shop"); !ok || a.Tracker == nil {
		t.Errorf("shop: %+v, %v; want its client and tracker", a, ok)
	}

	r = build(`{"accounts": [{"name": "default", "apiUrl": "` + def.URL() + `", "idInstance": "2202000002", "tokenEnv": "DEF_TOKEN"}, ` + shopOnly[len(`{"accounts": [`):])
	a, ok := r.accounts.Account("")
	c, isClient := a.Send.(*greenapi.Client)
	if !ok || !isClient || a.Tracker == nil {
		t.Fatalf("the file's default: %+v, %v; want its own client and tracker", a, ok)
	}
	if _, err := c.SendTextStatus(t.Context(), greenapi.TextStatus{Message: "hi", BackgroundColor: "#228B22"}); err != nil {
		t.Fatal(err)
	}
	if n, m := len(def.Posted()), len(shop.Posted()); n != 1 || m != 0 {
		t.Errorf("default's instance got %d, shop's %d; want 1, 0", n, m)
	}
}
