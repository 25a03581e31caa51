//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/embedchat/chat"
)

// The faults a run injects.
const (
	faultBrokerKill  = "broker-kill"  // redis-server SIGKILLed, restarted empty after -fault-down
	faultBrokerPause = "broker-pause" // redis-server SIGSTOPped for -fault-down, then SIGCONT
	faultPGTerminate = "pg-terminate" // every PostgreSQL session of the nodes terminated
	faultNodeKill    = "node-kill"    // one node SIGKILLed, restarted after -fault-down
	faultLinkDelay   = "link-delay"   // one node's replies from Redis and PostgreSQL delayed for 5 × -fault-down
)

var allFaults = []string{faultBrokerKill, faultBrokerPause, faultPGTerminate, faultNodeKill, faultLinkDelay}

// The delays of the link-delay fault, those of issue 9's reports.
const (
	slowRedisLink = 80 * time.Millisecond
	slowPGLink    = 40 * time.Millisecond
)

// recoveryTimeout bounds the wait for a probe after a fault; a fault not
// recovered from by then is reported as such.
const recoveryTimeout = 2 * time.Minute

// faultResult is one injected fault and how long the service took to
// deliver again.
type faultResult struct {
	kind   string
	detail string
	at     time.Duration // when it was injected, since the run started
	down   time.Duration // how long the fault lasted
	// recovery is the time from the fault's end until a message sent
	// afterwards reached the probe user on every node.
	recovery time.Duration
	err      error
}

func parseFaults(s string) ([]string, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	if s == "all" {
		return allFaults, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		known := false
		for _, k := range allFaults {
			known = known || f == k
		}
		if !known {
			return nil, fmt.Errorf("unknown fault %q (want all, none or a list of %s)", f, strings.Join(allFaults, ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

// injectFaults injects the configured faults one after another, every
// cfg.FaultEvery, until ctx ends. Each round takes the kinds in a fresh
// random order; roundDone is closed once every kind has been injected.
func (s *sim) injectFaults(ctx context.Context, roundDone chan<- struct{}) {
	if len(s.cfg.Faults) == 0 {
		close(roundDone)
		return
	}
	var queue []string
	for injected := 0; ; injected++ {
		if injected == len(s.cfg.Faults) {
			close(roundDone)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.FaultEvery):
		}
		if len(queue) == 0 {
			for _, i := range s.rng.Perm(len(s.cfg.Faults)) {
				queue = append(queue, s.cfg.Faults[i])
			}
		}
		kind := queue[0]
		queue = queue[1:]
		// The fault always runs to its end, so that the run never stops
		// with Redis paused or a node down.
		res := s.inject(context.WithoutCancel(ctx), kind)
		s.mu.Lock()
		s.faults = append(s.faults, res)
		s.mu.Unlock()
		s.progress("fault %s%s: down %v, recovered in %v%s", res.kind, prefixed(res.detail), res.down.Round(time.Millisecond),
			res.recovery.Round(time.Millisecond), prefixed(errString(res.err)))
	}
}

// prefixed is s after a space, or nothing.
func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

func (s *sim) inject(ctx context.Context, kind string) faultResult {
	res := faultResult{kind: kind, at: s.since()}
	began := time.Now()
	switch kind {
	case faultBrokerKill:
		s.cl.redis.Kill()
		time.Sleep(s.cfg.FaultDown)
		res.err = s.cl.redis.Restart()
	case faultBrokerPause:
		res.err = s.cl.redis.Pause()
		time.Sleep(s.cfg.FaultDown)
		if err := s.cl.redis.Resume(); err != nil {
			res.err = errors.Join(res.err, err)
		}
	case faultPGTerminate:
		n, err := s.cl.terminateNodeSessions(ctx)
		res.detail, res.err = fmt.Sprintf("(%d sessions)", n), err
	case faultNodeKill:
		n := s.cl.nodes[s.rng.IntN(len(s.cl.nodes))]
		res.detail = fmt.Sprintf("(node %d)", n.id)
		n.kill()
		time.Sleep(s.cfg.FaultDown)
		res.err = n.start(ctx, s.cl.bin)
	case faultLinkDelay:
		n := s.cl.nodes[s.rng.IntN(len(s.cl.nodes))]
		res.detail = fmt.Sprintf("(node %d)", n.id)
		n.redisProxy.setDelay(slowRedisLink)
		n.pgProxy.setDelay(slowPGLink)
		time.Sleep(5 * s.cfg.FaultDown)
		n.redisProxy.setDelay(0)
		n.pgProxy.setDelay(0)
	}
	res.down = time.Since(began)
	if res.err != nil {
		return res
	}
	res.recovery, res.err = s.probeDelivery(ctx)
	return res
}

// probeDelivery sends a message to the probe chat and waits until the
// probe user on every node has it. It measures recovery: the Broker and
// the Store are back, nodes are serving, and their subscriptions deliver.
func (s *sim) probeDelivery(ctx context.Context) (time.Duration, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, recoveryTimeout)
	defer cancel()
	var m chat.Message
	_, err := s.callRetrying(ctx, recoveryTimeout, s.probes[0].user, http.MethodPost, "/chats/"+s.probe+"/messages",
		map[string]any{"text": "probe", "client_id": randomID()}, &m)
	if err != nil {
		return time.Since(began), fmt.Errorf("probe send: %w", err)
	}
	for {
		all := true
		for _, d := range s.probes {
			all = all && d.position(s.probe) >= m.Seq
		}
		if all {
			return time.Since(began), nil
		}
		select {
		case <-ctx.Done():
			var behind []string
			for _, d := range s.probes {
				if p := d.position(s.probe); p < m.Seq {
					behind = append(behind, fmt.Sprintf("%s at %d", d.user, p))
				}
			}
			return time.Since(began), fmt.Errorf("probe seq %d not delivered within %v: %s", m.Seq, recoveryTimeout, strings.Join(behind, ", "))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
