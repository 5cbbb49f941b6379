// Command mediaprep turns raw media into WhatsApp statuses.
//
// The subcommands are thin adapters: each reads its settings (package
// config), runs package publish (prepare, post, batch, statuses) or
// service.Run (serve, worker), and maps what comes back to an exit status
// (root.go).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first Ctrl-C stops gracefully (running ffmpeg killed, multipart
	// uploads aborted, lines printed); a second one kills at once.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
