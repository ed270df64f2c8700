package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// handleHealthz answers as long as the process serves requests; it checks
// no dependency, so that a slow database never gets a live process killed.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// readyResponse is the body of GET /readyz.
type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReadyz runs every check at once, each bounded by ReadyTimeout, and
// reports each by name, so that an operator sees which dependency keeps
// the instance out of the load balancer.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.cfg.Checks))
	for _, c := range s.cfg.Checks {
		go func() {
			results <- result{c.Name, s.runCheck(r.Context(), c)}
		}()
	}
	resp := readyResponse{Status: "ready", Checks: make(map[string]string, len(s.cfg.Checks))}
	for range s.cfg.Checks {
		res := <-results
		resp.Checks[res.name] = "ok"
		if res.err != nil {
			resp.Checks[res.name] = res.err.Error()
			resp.Status = "not_ready"
		}
	}
	status := http.StatusOK
	if resp.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	s.writeJSON(w, r, status, resp)
}

// runCheck runs one check under the ready timeout. A check that ignores
// its context is abandoned when the timeout passes (its goroutine ends
// whenever the check returns), so one hung dependency cannot hang the probe.
func (s *Server) runCheck(ctx context.Context, c Check) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- c.Check(ctx)
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s", s.cfg.ReadyTimeout)
	}
	return err
}
