package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Default is the name of the account made of the single-instance settings
// (MEDIAPREP_GREENAPI_INSTANCE, _TOKEN, _URL, _MEDIA_URL), and the account
// of a job that names none.
const Default = "default"

// ErrConfig marks every problem with an accounts file or its tokens.
var ErrConfig = errors.New("accounts")

// MaxFileBytes caps the size of an accounts file and of a token file.
const MaxFileBytes = 1 << 20

// Account is one Green API instance the service posts for.
type Account struct {
	Name       string `json:"name" yaml:"name"`
	APIURL     string `json:"apiUrl,omitempty" yaml:"apiUrl,omitempty"`     // default: Green API's
	MediaURL   string `json:"mediaUrl,omitempty" yaml:"mediaUrl,omitempty"` // default: from APIURL
	IDInstance string `json:"idInstance" yaml:"idInstance"`
	// TokenEnv names the environment variable holding the token.
	TokenEnv string `json:"tokenEnv,omitempty" yaml:"tokenEnv,omitempty"`
	// TokenFile is a file holding the token (surrounding white space is
	// dropped), readable by its owner only (mode 0600 or 0400).
	TokenFile string `json:"tokenFile,omitempty" yaml:"tokenFile,omitempty"`

	// Token is the apiTokenInstance, filled in by Load from TokenEnv or
	// TokenFile; never read from the accounts file, never printed.
	Token string `json:"-" yaml:"-"`
}

// String names the account and its instance, never its token.
func (a Account) String() string { return a.Name + " (" + a.IDInstance + ")" }

// GoString is String, for %#v.
func (a Account) GoString() string { return "accounts.Account{" + a.String() + "}" }

// file is the accounts file as written. Token is there to be refused
// with a reason rather than as an unknown field.
type file struct {
	Accounts []entry `json:"accounts" yaml:"accounts"`
}

type entry struct {
	Account `yaml:",inline"`
	Token   *string `json:"token" yaml:"token"`
}

// Config is where the accounts come from. Only cmd/ fills it from the
// environment.
type Config struct {
	// File is the accounts file (MEDIAPREP_ACCOUNTS_FILE): .json, .yaml
	// or .yml. Empty: only Default.
	File string
	// Default is the single-instance account; used when its IDInstance
	// or Token is set. Its Name is set to Default.
	Default Account
	// LookupEnv reads the variables named by tokenEnv; default: none is
	// set.
	LookupEnv func(name string) (string, bool)
}

// validName is what an account name may look like: it is a folder under
// the inbox, a metrics label and a form value.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Set is the accounts a service posts for, by name.
type Set struct {
	byName map[string]Account
	names  []string // in file order, Default first when set
}

// Load reads and checks cfg.File and the tokens it points to, and adds
// cfg.Default. Every problem is reported at once (errors.Join), each
// wrapping ErrConfig and saying what to fix; a token never appears in one.
func Load(cfg Config) (*Set, error) {
	var list []Account
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if cfg.Default.IDInstance != "" || cfg.Default.Token != "" {
		d := cfg.Default
		d.Name = Default
		list = append(list, d)
	}
	if cfg.File != "" {
		entries, err := readFile(cfg.File)
		if err != nil {
			return nil, err
		}
		for i, e := range entries {
			a := e.Account
			where := fmt.Sprintf("%s: account %d", cfg.File, i+1)
			if a.Name != "" {
				where = fmt.Sprintf("%s: account %q", cfg.File, a.Name)
			}
			if e.Token != nil {
				bad("%s: has a token field; a token must not be written in a file that may be committed: put it in an environment variable named by tokenEnv, or in a file of mode 0600 named by tokenFile", where)
			}
			a.Token = ""
			errs = append(errs, a.resolveToken(where, cfg.LookupEnv)...)
			list = append(list, a)
		}
	}
	s := &Set{byName: map[string]Account{}}
	for i, a := range list {
		where := fmt.Sprintf("account %d", i+1)
		if a.Name != "" {
			where = fmt.Sprintf("account %q", a.Name)
		}
		if a.Name == Default && i == 0 && (cfg.Default.IDInstance != "" || cfg.Default.Token != "") {
			where = "the default account (MEDIAPREP_GREENAPI_INSTANCE, MEDIAPREP_GREENAPI_TOKEN)"
		}
		errs = append(errs, a.check(where)...)
		if _, dup := s.byName[a.Name]; dup && a.Name != "" {
			if a.Name == Default {
				bad("%s: the name %q is taken by the single-instance settings (MEDIAPREP_GREENAPI_INSTANCE); rename it, or unset those", where, Default)
			} else {
				bad("%s: the name is used twice; give each account its own name", where)
			}
			continue
		}
		s.byName[a.Name] = a
		s.names = append(s.names, a.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// readFile parses an accounts file by its extension.
func readFile(path string) ([]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: file %s: %w (set MEDIAPREP_ACCOUNTS_FILE to an accounts file)", ErrConfig, path, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileBytes+1)); err != nil {
		return nil, fmt.Errorf("%w: file %s: %w", ErrConfig, path, err)
	}
	if buf.Len() > MaxFileBytes {
		return nil, fmt.Errorf("%w: file %s: over %d bytes", ErrConfig, path, MaxFileBytes)
	}
	var doc file
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		dec := json.NewDecoder(&buf)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%w: file %s: %w (want {\"accounts\": [{\"name\", \"apiUrl\", \"mediaUrl\", \"idInstance\", \"tokenEnv\" or \"tokenFile\"}]})", ErrConfig, path, err)
		}
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: file %s: %w (want accounts: a list of name, apiUrl, mediaUrl, idInstance, and tokenEnv or tokenFile)", ErrConfig, path, err)
		}
	default:
		return nil, fmt.Errorf("%w: file %s: name it .json, .yaml or .yml after its format", ErrConfig, path)
	}
	if len(doc.Accounts) == 0 {
		return nil, fmt.Errorf("%w: file %s lists no accounts (want a list under \"accounts\")", ErrConfig, path)
	}
	return doc.Accounts, nil
}

// resolveToken fills a.Token from its tokenEnv or tokenFile.
func (a *Account) resolveToken(where string, lookup func(string) (string, bool)) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: "+format, append([]any{ErrConfig, where}, args...)...))
	}
	switch {
	case a.TokenEnv != "" && a.TokenFile != "":
		bad("has both tokenEnv and tokenFile; keep one")
	case a.TokenEnv != "":
		v, ok := "", false
		if lookup != nil {
			v, ok = lookup(a.TokenEnv)
		}
		switch {
		case !ok:
			bad("tokenEnv names %s, which is not set; set it to the instance's apiTokenInstance", a.TokenEnv)
		case strings.TrimSpace(v) == "":
			bad("tokenEnv names %s, which is empty; set it to the instance's apiTokenInstance", a.TokenEnv)
		default:
			a.Token = strings.TrimSpace(v)
		}
	case a.TokenFile != "":
		tok, err := readToken(a.TokenFile)
		if err != nil {
			bad("tokenFile: %v", err)
		}
		a.Token = tok
	default:
		bad("says nowhere where its token is: add tokenEnv (an environment variable's name) or tokenFile (a file of mode 0600)")
	}
	return errs
}

// readToken reads a token file, refusing one others may read.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s has mode %04o: others may read the token; run chmod 600 %s", path, perm, path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileBytes+1)); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	tok := strings.TrimSpace(buf.String())
	if tok == "" || buf.Len() > MaxFileBytes {
		return "", fmt.Errorf("%s holds no token (want the apiTokenInstance alone)", path)
	}
	return tok, nil
}

// check reports what is wrong with a's fields (its token is resolved).
func (a Account) check(where string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: "+format, append([]any{ErrConfig, where}, args...)...))
	}
	if !validName.MatchString(a.Name) {
		bad("name %q: use 1 to 32 lowercase letters, digits, - and _, starting with a letter or digit", a.Name)
	}
	for _, u := range []struct{ field, v string }{{"apiUrl", a.APIURL}, {"mediaUrl", a.MediaURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil {
			bad("%s %q: want an absolute http(s) URL without query, fragment or user", u.field, redact(u.v, a.Token))
		}
	}
	switch {
	case a.IDInstance == "":
		bad("idInstance is empty; set it to the instance's idInstance (digits)")
	case strings.Trim(a.IDInstance, "0123456789") != "":
		bad("idInstance %q must be digits only", redact(a.IDInstance, a.Token))
	}
	if a.Token != "" && strings.ContainsAny(a.Token, "/?#% \t\r\n") {
		bad("the token has a character an apiTokenInstance never has (/?#%% or space); check it")
	}
	return errs
}

func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[redacted]")
}

// Names lists the accounts, Default first when it is set, then in file
// order.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Get returns the account called name; "" means Default.
func (s *Set) Get(name string) (Account, bool) {
	if name == "" {
		name = Default
	}
	a, ok := s.byName[name]
	return a, ok
}

// Len is the number of accounts.
func (s *Set) Len() int { return len(s.names) }
