package main

import (
	"context"
	"fmt"
	"io"

	"tresor/appliance/daemon"
)

func init() {
	register(&command{
		name:  "status",
		short: "show version, uptime, state and scheduled jobs of the running appliance",
		run: func(c *cmdEnv, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var s daemon.Status
			if err := cl.Call(context.Background(), "GET", "/v1/status", nil, &s); err != nil {
				return err
			}
			return c.print(s, func(w io.Writer) {
				fmt.Fprintf(w, "tresor %s\nstate:    %s\nuptime:   %s\nlisten:   %s\ndata dir: %s\n", s.Version, s.State, s.Uptime, s.Listen, s.DataDir)
				if s.Problem != "" {
					fmt.Fprintf(w, "problem:  %s\n", s.Problem)
				}
				if s.Pool != nil {
					fmt.Fprintf(w, "pool:     %s (layout %s)", s.Pool.ID, s.Pool.Layout)
					if s.Pool.Health != "" {
						fmt.Fprintf(w, ", %s", s.Pool.Health)
					}
					fmt.Fprintln(w)
				}
				if len(s.Jobs) > 0 {
					fmt.Fprintln(w, "jobs:")
					for _, j := range s.Jobs {
						state := j.LastResult
						if state == "" {
							state = "never ran"
						}
						if j.Running {
							state = "running " + j.Progress
						}
						fmt.Fprintf(w, "  %-12s %-22s %-12s next %s\n", j.Name, j.Spec, state, j.NextRun.Local().Format("2006-01-02 15:04"))
					}
				}
			})
		},
	})
}
