package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Env reads mediaprep's environment variables: every command reads them
// through one, so that a bad value is reported the same way, all of them
// at once (Errs).
type Env struct {
	getenv func(string) string
	errs   []error
}

// NewEnv returns an Env reading variables with getenv (os.Getenv, or a
// test's map).
func NewEnv(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// Set reports whether name is set to a non-empty value.
func (e *Env) Set(name string) bool { return e.getenv(name) != "" }

// Str is name's value, or def when unset.
func (e *Env) Str(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// Errs are the values met so far that did not parse, one error each.
func (e *Env) Errs() []error { return slices.Clone(e.errs) }

// value is name's value read by parse, or def when unset; a value parse
// refuses is kept in errs, with why.
func value[T any](e *Env, name string, def T, parse func(name, v string) (T, error)) T {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	x, err := parse(name, v)
	if err != nil {
		e.errs = append(e.errs, err)
		return def
	}
	return x
}

// dur is name's value as a duration, or def when unset.
func (e *Env) dur(name string, def time.Duration) time.Duration {
	return value(e, name, def, func(name, v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%s=%q is not a duration like 30s", name, v)
		}
		return d, nil
	})
}

// num is name's value as a positive whole number, or def when unset.
func (e *Env) num(name string, def int) int {
	return value(e, name, def, func(name, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s=%q is not a positive whole number", name, v)
		}
		return n, nil
	})
}

// replicas is name's value as a replica count: 0 (automatic) to 5.
func (e *Env) replicas(name string, def int) int {
	return value(e, name, def, func(name, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 5 {
			return 0, fmt.Errorf("%s=%q: want 1 to 5, or 0 for automatic", name, v)
		}
		return n, nil
	})
}

// size is name's value as a byte count (ParseSize), or def when unset.
func (e *Env) size(name string, def int64) int64 {
	return value(e, name, def, func(name, v string) (int64, error) {
		n, err := ParseSize(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return n, nil
	})
}

// ParseSize reads a byte count like 200MB, 1GiB or 5000000.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 200MB", s)
	}
	return n * mult, nil
}
