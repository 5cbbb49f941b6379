// Package config reads mediaprep's settings: the flags of every command
// and the environment variables that set their defaults.
//
// Each setting is a flag whose default comes from an environment variable
// (MEDIAPREP_*): the variable sets what --help shows, the flag overrides
// it. Where no variable is set, the default is the owning package's
// constant or NewDefaultConfig (service, transcode, storage, greenapi,
// delivery), so a default is written once. One table (Settings.Table)
// lists every setting with the commands that take it; each command binds
// its rows with AddFlags.
//
// Every bad value is reported together: the environment reader (Env)
// collects the variables that do not parse, and the functions turning
// settings into a package's Config (GreenConfig, StorageConfig,
// ApplyLimits, ServiceConfig, Check) join them with the package's own
// Validate errors. Errors are plain: the command decides that a bad
// setting is a usage error. Secrets (the Green API token, the NATS token,
// API keys) have no flag, so that they never show in ps or --help; they
// are read from the environment only (EnvOnly).
package config
