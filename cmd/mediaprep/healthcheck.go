package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/mediaprep/mediaprep/config"
	"github.com/spf13/cobra"
)

// newHealthcheckCmd checks a running serve through GET /healthz: the
// container image has no curl, so its HEALTHCHECK runs this.
func newHealthcheckCmd(ev *config.Env) *cobra.Command {
	s := config.New()
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the serve process at --listen answers GET /healthz",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, port, err := net.SplitHostPort(s.Service.Listen)
			if err != nil {
				return usagef("--listen %q: %v", s.Service.Listen, err)
			}
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				host = "127.0.0.1"
			}
			c := &http.Client{Timeout: 5 * time.Second}
			resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/healthz answered %s", resp.Status)
			}
			return nil
		},
	}
	s.AddFlags(cmd.Flags(), ev, config.Healthcheck)
	return cmd
}
