package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/service"
)

// bind returns cmd's settings bound to a fresh flag set, defaults from env,
// and parses args.
func bind(t *testing.T, cmd Command, env map[string]string, args ...string) (*Settings, *pflag.FlagSet, *Env) {
	t.Helper()
	ev := NewEnv(func(k string) string { return env[k] })
	s := New()
	fl := pflag.NewFlagSet("test", pflag.ContinueOnError)
	s.AddFlags(fl, ev, cmd)
	if err := fl.Parse(args); err != nil {
		t.Fatal(err)
	}
	return s, fl, ev
}

// TestEveryCommandBinds: no command takes two settings of one flag (pflag
// would panic at start) and each takes some.
func TestEveryCommandBinds(t *testing.T) {
	for _, cmd := range []Command{Prepare, Post, Batch, Statuses, Serve, Worker, Healthcheck} {
		_, fl, _ := bind(t, cmd, nil)
		if !fl.HasFlags() {
			t.Errorf("command %b takes no setting", cmd)
		}
	}
}

func TestEnvSetsDefaultAndFlagOverrides(t *testing.T) {
	env := map[string]string{"MEDIAPREP_WORKERS": "7", "MEDIAPREP_S3_BUCKET": "from-env",
		"MEDIAPREP_SHUTDOWN_GRACE": "5s", "MEDIAPREP_MAX_UPLOAD": "1MiB"}
	s, fl, ev := bind(t, Serve, env)
	if s.Service.Workers != 7 || s.Bucket != "from-env" || s.Service.Grace.String() != "5s" || s.Service.HTTP.MaxUploadBytes != 1<<20 {
		t.Errorf("from the environment: workers %d, bucket %q, grace %s, max upload %d", s.Service.Workers, s.Bucket, s.Service.Grace, s.Service.HTTP.MaxUploadBytes)
	}
	if d := fl.Lookup("workers").DefValue; d != "7" {
		t.Errorf("--workers default %q, want the variable's 7 (what --help shows)", d)
	}
	if d := fl.Lookup("replicas").DefValue; d != "0" {
		t.Errorf("--replicas default %q without its variable, want service's 0", d)
	}
	if errs := ev.Errs(); len(errs) > 0 {
		t.Errorf("good values reported: %v", errs)
	}

	s, _, _ = bind(t, Serve, env, "--workers", "3", "--bucket", "from-flag", "--grace", "1m")
	if s.Service.Workers != 3 || s.Bucket != "from-flag" || s.Service.Grace.String() != "1m0s" {
		t.Errorf("flags given: workers %d, bucket %q, grace %s", s.Service.Workers, s.Bucket, s.Service.Grace)
	}

	// Defaults come from the packages when nothing is set.
	s, _, _ = bind(t, Serve, nil)
	if want := service.NewDefaultConfig(); s.Service.Listen != want.Listen || s.Service.HTTP.MaxConcurrentUploads != want.HTTP.MaxConcurrentUploads {
		t.Errorf("defaults: listen %q, max uploads %d; want service's %q, %d", s.Service.Listen, s.Service.HTTP.MaxConcurrentUploads, want.Listen, want.HTTP.MaxConcurrentUploads)
	}
}

// TestBadValuesReportedTogether: every bad value of the environment and
// the flags is in the one error.
func TestBadValuesReportedTogether(t *testing.T) {
	env := map[string]string{"MEDIAPREP_WORKERS": "many", "MEDIAPREP_MAX_UPLOAD": "huge", "MEDIAPREP_SHUTDOWN_GRACE": "soon",
		"MEDIAPREP_QUEUE_REPLICAS": "9", "MEDIAPREP_LINK_TTL": "long", "MEDIAPREP_S3_BUCKET": "b"}
	s, fl, ev := bind(t, Serve, env, "--max-pixels", "lots", "--path-style", "maybe", "--nats-listen", "127.0.0.1:4222")
	_, _, err := s.ServiceConfig(fl, ev, true)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`MEDIAPREP_WORKERS="many"`, "MEDIAPREP_MAX_UPLOAD", `MEDIAPREP_SHUTDOWN_GRACE="soon"`,
		`MEDIAPREP_QUEUE_REPLICAS="9"`, "MEDIAPREP_LINK_TTL", "MEDIAPREP_MAX_PIXELS", "MEDIAPREP_S3_PATH_STYLE", "needs a token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}

	// post and batch: one per line, after "bad settings:".
	s, _, ev = bind(t, Post, map[string]string{"MEDIAPREP_GREENAPI_TIMEOUT": "never", "MEDIAPREP_DELIVERY_WINDOW": "-1m"},
		"--crop", "sideways", "-j", "0", "--link-ttl", "long", "--bucket", "b")
	_, err = s.Check(ev)
	if err == nil {
		t.Fatal("post: no error")
	}
	for _, want := range []string{"bad settings:\n", "sideways", "-j 0", "MEDIAPREP_LINK_TTL", "MEDIAPREP_GREENAPI_TIMEOUT", "MEDIAPREP_DELIVERY_WINDOW"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("post: error does not name %q:\n%v", want, err)
		}
	}
}

// TestNATSURLNotInHelp: the NATS URL may hold a token, so its variable
// never becomes --nats's default (shown by --help); it is read late.
func TestNATSURLNotInHelp(t *testing.T) {
	env := map[string]string{"MEDIAPREP_NATS_URL": "nats://s3cret@127.0.0.1:4222"}
	s, fl, ev := bind(t, Worker, env)
	var usage strings.Builder
	fl.SetOutput(&usage)
	fl.PrintDefaults()
	if strings.Contains(usage.String(), "s3cret") || fl.Lookup("nats").DefValue != "" {
		t.Errorf("the NATS URL shows in the flags' help:\n%s", usage.String())
	}
	cfg, _, err := s.ServiceConfig(fl, ev, false)
	if err != nil || cfg.NATSURL != env["MEDIAPREP_NATS_URL"] {
		t.Errorf("NATS URL %q, %v; want the variable's", cfg.NATSURL, err)
	}
	s, fl, ev = bind(t, Worker, env, "--nats", "nats://other:4222")
	if cfg, _, _ := s.ServiceConfig(fl, ev, false); cfg.NATSURL != "nats://other:4222" {
		t.Errorf("--nats given: NATS URL %q", cfg.NATSURL)
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"5000000", 5000000},
		{"200MB", 200e6},
		{"200 mb", 200e6},
		{"1GiB", 1 << 30},
		{"256MiB", 256 << 20},
		{"16KiB", 16 << 10},
		{"3KB", 3000},
		{"7B", 7},
		{" 2GB ", 2e9},
		{"", 0},
		{"0", 0},
		{"-5MB", 0},
		{"MB", 0},
		{"1.5GB", 0},
		{"ten", 0},
		{"10TB", 0},
	} {
		got, err := ParseSize(tt.in)
		switch {
		case tt.want == 0 && err == nil:
			t.Errorf("ParseSize(%q) = %d, want an error", tt.in, got)
		case tt.want != 0 && (err != nil || got != tt.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// notVariables are MEDIAPREP_ names README uses that are not variables
// mediaprep reads.
var notVariables = map[string]string{
	"MEDIAPREP_EVENTS":      "the JetStream stream of bucket events",
	"MEDIAPREP_SCREENSHOTS": "where TestWebPage writes its screenshots",
}

// TestREADMENamesEveryVariable: every variable the table or EnvOnly reads
// is documented, and every variable README names is read.
func TestREADMENamesEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, v := range regexp.MustCompile(`MEDIAPREP_[A-Z0-9_]*[A-Z0-9]`).FindAllString(string(readme), -1) {
		documented[v] = true
	}
	read := EnvOnly()
	for _, s := range New().Table() {
		if s.Env != "" {
			read = append(read, s.Env)
		}
	}
	for _, v := range read {
		if !documented[v] {
			t.Errorf("%s is read but README does not name it", v)
		}
	}
	for v := range documented {
		if _, ok := notVariables[v]; !ok && !slices.Contains(read, v) {
			t.Errorf("README names %s, which nothing reads (or add it to notVariables)", v)
		}
	}
}

// TestAccountsFileOnly: with an accounts file and no single-instance
// settings there is no default account, so no default Green API client
// is configured (service makes none); without either, the dry run's
// placeholder client builds the requests it logs.
func TestAccountsFileOnly(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.json")
	if err := os.WriteFile(file, []byte(`{"accounts": [{"name": "shop", "idInstance": "1101000001", "tokenEnv": "SHOP_TOKEN"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, fl, ev := bind(t, Serve, map[string]string{AccountsFileEnv: file, "SHOP_TOKEN": "tok-shop"})
	cfg, creds, err := s.ServiceConfig(fl, ev, true)
	if err != nil || !creds || cfg.DryRun || cfg.Accounts == nil || cfg.Green.IDInstance != "" || cfg.Green.Token != "" {
		t.Errorf("accounts file only: creds %v, dry run %v, accounts %v, Green instance %q, %v; want credentials, no default instance",
			creds, cfg.DryRun, cfg.Accounts != nil, cfg.Green.IDInstance, err)
	}
	// --greenapi-timeout reaches the accounts' clients (service.buildAccounts
	// reads it from Green), and a bad one is refused.
	s, fl, ev = bind(t, Serve, map[string]string{AccountsFileEnv: file, "SHOP_TOKEN": "tok-shop", "MEDIAPREP_GREENAPI_TIMEOUT": "7s"})
	if cfg, _, err := s.ServiceConfig(fl, ev, true); err != nil || cfg.Green.HTTPClient == nil || cfg.Green.HTTPClient.Timeout != 7*time.Second {
		t.Errorf("accounts file with MEDIAPREP_GREENAPI_TIMEOUT=7s: Green.HTTPClient %+v, %v; want a 7s timeout", cfg.Green.HTTPClient, err)
	}
	s, fl, ev = bind(t, Serve, map[string]string{AccountsFileEnv: file, "SHOP_TOKEN": "tok-shop", "MEDIAPREP_GREENAPI_TIMEOUT": "soon"})
	if _, _, err := s.ServiceConfig(fl, ev, true); err == nil || !strings.Contains(err.Error(), "MEDIAPREP_GREENAPI_TIMEOUT") {
		t.Errorf("accounts file with a bad timeout: %v; want it refused", err)
	}
	s, fl, ev = bind(t, Serve, nil)
	cfg, creds, err = s.ServiceConfig(fl, ev, true)
	if err != nil || creds || !cfg.DryRun || cfg.Green.IDInstance == "" {
		t.Errorf("nothing set: creds %v, dry run %v, Green instance %q, %v; want a dry run with its placeholder", creds, cfg.DryRun, cfg.Green.IDInstance, err)
	}
}
