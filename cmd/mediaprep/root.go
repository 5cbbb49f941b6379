package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/publish"
)

// Exit statuses of mediaprep.
const (
	exitOK          = 0   // every input succeeded
	exitFailed      = 1   // at least one input failed; the others finished
	exitUsage       = 2   // bad flags or arguments
	exitInterrupted = 130 // stopped by Ctrl-C or SIGTERM
)

// exitError carries an exit status out of a subcommand.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError marks an error as the user's: bad flags or arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globalFlags are the flags of every subcommand.
type globalFlags struct {
	verbose bool
	logJSON bool
	stderr  io.Writer
}

// logger returns the logger the flags ask for, writing to stderr.
func (g *globalFlags) logger() *slog.Logger { return g.loggerAt(slog.LevelInfo) }

// loggerAt is logger with level as the level without -v.
func (g *globalFlags) loggerAt(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if g.verbose {
		opts.Level = slog.LevelDebug
	}
	if g.logJSON {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

// run executes mediaprep with args and returns its exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "mediaprep",
		Short:         "Turn raw media into WhatsApp statuses",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable, so that an unknown subcommand reaches RunE as an
		// argument and is reported as a usage error.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return cmd.Help()
		},
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	var g globalFlags
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log every ffmpeg/ffprobe command to stderr")
	root.PersistentFlags().BoolVar(&g.logJSON, "log-json", false, "log as JSON lines")
	g.stderr = stderr
	// Each command reads the environment through an env of its own, which
	// collects the bad values it meets.
	ev := func() *config.Env { return config.NewEnv(getenv) }
	root.AddCommand(newPrepareCmd(&g, stdout, ev()), newPostCmd(&g, stdout, ev()), newBatchCmd(&g, stdout, ev()), newStatusesCmd(&g, stdout, ev()),
		newServeCmd(&g, ev()), newWorkerCmd(&g, ev()), newHealthcheckCmd(ev()))

	err := root.ExecuteContext(ctx)
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, publish.ErrInterrupted): // the outcome of a run of files
		return exitInterrupted
	case errors.Is(err, publish.ErrFailed):
		return exitFailed
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mediaprep: %v\nRun 'mediaprep --help' for usage.\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "mediaprep: %v\n", err)
		return exitFailed
	}
}

// usageArgs wraps a cobra argument check so that its complaint is a usage
// error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
