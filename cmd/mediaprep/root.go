package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
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
func (g *globalFlags) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if g.verbose {
		opts.Level = slog.LevelDebug
	}
	if g.logJSON {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

// run executes mediaprep with args and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "mediaprep",
		Short:         "Turn raw media into WhatsApp statuses",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	var g globalFlags
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log every ffmpeg/ffprobe command to stderr")
	root.PersistentFlags().BoolVar(&g.logJSON, "log-json", false, "log as JSON lines")
	g.stderr = stderr
	root.AddCommand(newPrepareCmd(&g, stdout))

	err := root.ExecuteContext(ctx)
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mediaprep: %v\nRun 'mediaprep --help' for usage.\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "mediaprep: %v\n", err)
		// cobra reports unknown commands and arguments as plain errors.
		if isCobraUsage(err) {
			return exitUsage
		}
		return exitFailed
	}
}

// isCobraUsage tells cobra's own usage complaints (unknown command, wrong
// number of arguments) from failures of the work.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
