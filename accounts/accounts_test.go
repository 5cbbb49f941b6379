package accounts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/accounts"
)

func write(t *testing.T, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestLoadYAMLAndJSON(t *testing.T) {
	tokFile := write(t, "news.token", "tok-news-2\n", 0o600)
	yamlBody := `accounts:
  - name: shop
    idInstance: "1101000001"
    tokenEnv: SHOP_TOKEN
  - name: news
    apiUrl: https://7103.api.greenapi.com
    mediaUrl: https://7103.media.greenapi.com
    idInstance: "7103000002"
    tokenFile: ` + tokFile + "\n"
	jsonBody := `{"accounts":[{"name":"shop","idInstance":"1101000001","tokenEnv":"SHOP_TOKEN"},
{"name":"news","apiUrl":"https://7103.api.greenapi.com","mediaUrl":"https://7103.media.greenapi.com","idInstance":"7103000002","tokenFile":"` + tokFile + `"}]}`
	for _, tc := range []struct{ name, body string }{{"a.yaml", yamlBody}, {"a.json", jsonBody}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := accounts.Load(accounts.Config{
				File:      write(t, tc.name, tc.body, 0o644),
				Default:   accounts.Account{IDInstance: "1100000000", Token: "tok-default"},
				LookupEnv: env(map[string]string{"SHOP_TOKEN": "tok-shop-1"}),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.Names(), ","); got != "default,shop,news" {
				t.Errorf("names %s", got)
			}
			shop, _ := s.Get("shop")
			news, _ := s.Get("news")
			def, _ := s.Get("")
			if shop.Token != "tok-shop-1" || news.Token != "tok-news-2" || def.Token != "tok-default" || def.Name != "default" {
				t.Errorf("tokens not resolved: %q %q %q", shop.Token, news.Token, def.Token)
			}
			if news.APIURL != "https://7103.api.greenapi.com" || news.MediaURL != "https://7103.media.greenapi.com" || news.IDInstance != "7103000002" {
				t.Errorf("news %+v", news.IDInstance)
			}
			if _, ok := s.Get("other"); ok {
				t.Error("an unknown account was found")
			}
			if strings.Contains(news.String(), "tok-") {
				t.Errorf("String shows the token: %s", news)
			}
		})
	}
}

// TestLoadReportsEverything: one file with four mistakes reports all of
// them, each saying what to fix, and never prints a token.
func TestLoadReportsEverything(t *testing.T) {
	open := write(t, "open.token", "tok-open-secret", 0o644)
	body := `accounts:
  - name: inline
    idInstance: "1"
    token: tok-inline-secret
  - name: wide
    idInstance: "2"
    tokenFile: ` + open + `
  - name: noenv
    idInstance: "3"
    tokenEnv: NOT_SET_ANYWHERE
  - name: twice
    idInstance: "4"
    tokenEnv: T
  - name: twice
    idInstance: "5"
    tokenEnv: T
`
	_, err := accounts.Load(accounts.Config{File: write(t, "bad.yml", body, 0o600), LookupEnv: env(map[string]string{"T": "tok-t"})})
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, accounts.ErrConfig) {
		t.Errorf("not ErrConfig: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`"inline": has a token field; a token must not be written in a file that may be committed`,
		`"wide": tokenFile: ` + open + ` has mode 0644: others may read the token; run chmod 600`,
		`"noenv": tokenEnv names NOT_SET_ANYWHERE, which is not set`,
		`"twice": the name is used twice`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "secret") || strings.Contains(msg, "tok-t") {
		t.Errorf("a token is in the error:\n%s", msg)
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, tc := range []struct{ name, file, body, want string }{
		{"bad name", "a.json", `{"accounts":[{"name":"Shop Main","idInstance":"1","tokenEnv":"T"}]}`, `name "Shop Main": use 1 to 32 lowercase`},
		{"letters in idInstance", "a.json", `{"accounts":[{"name":"a","idInstance":"12x","tokenEnv":"T"}]}`, `idInstance "12x" must be digits only`},
		{"no token source", "a.json", `{"accounts":[{"name":"a","idInstance":"1"}]}`, `says nowhere where its token is`},
		{"both sources", "a.json", `{"accounts":[{"name":"a","idInstance":"1","tokenEnv":"T","tokenFile":"/x"}]}`, `has both tokenEnv and tokenFile`},
		{"bad url", "a.json", `{"accounts":[{"name":"a","idInstance":"1","tokenEnv":"T","apiUrl":"ftp://x"}]}`, `apiUrl "ftp://x": want an absolute http(s) URL`},
		{"unknown field", "a.json", `{"accounts":[{"name":"a","idInstance":"1","tokenEnv":"T","instance":"2"}]}`, `unknown field "instance"`},
		{"unknown yaml field", "a.yaml", "accounts:\n  - name: a\n    idInstance: \"1\"\n    tokenEnv: T\n    instance: 2\n", `field instance not found`},
		{"empty", "a.yaml", "", `lists no accounts`},
		{"other extension", "a.toml", `x`, `name it .json, .yaml or .yml`},
		{"default taken", "a.json", `{"accounts":[{"name":"default","idInstance":"1","tokenEnv":"T"}]}`, `the name "default" is taken by the single-instance settings`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := accounts.Load(accounts.Config{
				File: write(t, tc.file, tc.body, 0o600), LookupEnv: env(map[string]string{"T": "tok"}),
				Default: accounts.Account{IDInstance: "9", Token: "tok-d"},
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadDefaultOnly(t *testing.T) {
	s, err := accounts.Load(accounts.Config{Default: accounts.Account{IDInstance: "1", Token: "tok"}})
	if err != nil || s.Len() != 1 {
		t.Fatalf("%v %v", s, err)
	}
	if a, ok := s.Get("default"); !ok || a.Token != "tok" {
		t.Errorf("default %v %v", a, ok)
	}
	s, err = accounts.Load(accounts.Config{})
	if err != nil || s.Len() != 0 {
		t.Fatalf("no settings: %v %v", s, err)
	}
}
