//go:build unix

package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// maxListed bounds the violations a report lists one by one.
const maxListed = 30

// report is what a run found.
type report struct {
	cfg         config
	counts      *counters
	stored      int64 // persisted events in the Store, every chat
	chats       int
	conns       int
	closes      map[string]int
	checker     *checker
	faults      []faultResult
	maxSessions int
	elapsed     time.Duration
	dir         string
}

// ok reports whether every connection kept the invariant and every fault
// was recovered from.
func (r *report) ok() bool {
	if len(r.checker.violations) > 0 {
		return false
	}
	for _, f := range r.faults {
		if f.err != nil {
			return false
		}
	}
	return true
}

func closeName(code websocket.StatusCode) string {
	switch code {
	case -1:
		return "no close frame"
	case closedAtEnd:
		return "closed at the end"
	case websocket.StatusNormalClosure:
		return "1000"
	}
	return fmt.Sprint(int(code))
}

func (r *report) write(w io.Writer) {
	c := r.counts
	k := r.checker
	fmt.Fprintf(w, "chatsoak: seed %d, %d nodes, %d users, %.0f actions/s, %v of load, %v in all\n",
		r.cfg.Seed, r.cfg.Nodes, r.cfg.Users, r.cfg.Rate, r.cfg.Duration, r.elapsed.Round(time.Second))
	fmt.Fprintf(w, "  rerun:      %s\n", r.command())
	fmt.Fprintf(w, "  actions:    %d sent (%d failed), %d edits, %d deletes, %d reads, %d typing, %d adds, %d removes, %d chats created, %d disconnects\n",
		c.sent.Load(), c.sendFailed.Load(), c.edits.Load(), c.deletes.Load(), c.reads.Load(), c.typing.Load(),
		c.adds.Load(), c.removes.Load(), c.creates.Load(), c.disconnects.Load())
	fmt.Fprintf(w, "              %d failed actions, %d retried requests, %d skipped (all slots busy)\n",
		c.opErrors.Load(), c.retries.Load(), c.skipped.Load())
	fmt.Fprintf(w, "  store:      %d persisted events in %d chats; at most %d PostgreSQL sessions\n", r.stored, r.chats, r.maxSessions)
	fmt.Fprintf(w, "  delivered:  %d persisted events, %d typing and read, %d resyncs, on %d connections (%d failed dials)\n",
		k.delivered, k.ephemeral, c.resyncs.Load(), r.conns, c.dialErrors.Load())
	fmt.Fprintf(w, "  closes:     %s\n", mapLine(r.closes))
	fmt.Fprintf(w, "  invariant:  lost %d, duplicated %d, reordered %d, leaked %d, behind %d\n",
		k.counts[classLost], k.counts[classDuplicated], k.counts[classReordered], k.counts[classLeaked], k.counts[classBehind])

	byKind := make(map[string][]faultResult)
	for _, f := range r.faults {
		byKind[f.kind] = append(byKind[f.kind], f)
	}
	fmt.Fprintf(w, "  faults:     %d injected\n", len(r.faults))
	for _, kind := range allFaults {
		fs := byKind[kind]
		if len(fs) == 0 {
			continue
		}
		var rec []time.Duration
		failed := 0
		for _, f := range fs {
			if f.err != nil {
				failed++
				continue
			}
			rec = append(rec, f.recovery)
		}
		line := fmt.Sprintf("    %-13s %3d", kind, len(fs))
		if len(rec) > 0 {
			slices.Sort(rec)
			line += fmt.Sprintf("  recovery median %v, max %v", rec[(len(rec)-1)/2].Round(time.Millisecond), rec[len(rec)-1].Round(time.Millisecond))
		}
		if failed > 0 {
			line += fmt.Sprintf("  NOT RECOVERED %d", failed)
		}
		fmt.Fprintln(w, line)
	}
	for _, f := range r.faults {
		line := fmt.Sprintf("    t=%-8v %-13s %s down %v, recovery %v %s", f.at.Round(time.Millisecond), f.kind, f.detail,
			f.down.Round(time.Millisecond), f.recovery.Round(time.Millisecond), errString(f.err))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if len(k.violations) > 0 {
		fmt.Fprintf(w, "  violations: %d (first %d by time)\n", len(k.violations), min(maxListed, len(k.violations)))
		for _, v := range k.violations[:min(maxListed, len(k.violations))] {
			fmt.Fprintf(w, "    %s\n", v)
		}
	}
	if r.dir != "" {
		fmt.Fprintf(w, "  logs:       %s (violations.txt: each listed violation's connection and chat in detail)\n", r.dir)
	}
	if r.ok() {
		fmt.Fprintln(w, "  result:     PASS")
	} else {
		fmt.Fprintln(w, "  result:     FAIL")
	}
}

// writeDetails writes, for each listed violation, what its connection saw
// of the chat and the user's member events in the Store's log, so that a
// violation can be told from a checker's mistake and traced in the nodes'
// logs.
func (r *report) writeDetails(w io.Writer, conns []*connLog) {
	k := r.checker
	for i, v := range k.violations[:min(maxListed, len(k.violations))] {
		fmt.Fprintf(w, "== %d: %s\n", i+1, v)
		if t := k.truths[v.chat]; t != nil {
			fmt.Fprintf(w, "Store: chat %s, last seq %d, %s initially a member: %v; member events of %s:", v.chat, t.last, v.user, t.initial[v.user], v.user)
			for _, tg := range t.toggles[v.user] {
				verb := "removed"
				if tg.added {
					verb = "added"
					if at, ok := k.addStarted[addKey{v.chat, v.user, tg.seq}]; ok {
						verb += fmt.Sprintf(" (asked at t=%v)", at.Round(time.Millisecond))
					}
				}
				fmt.Fprintf(w, " %s at %d;", verb, tg.seq)
			}
			fmt.Fprintln(w)
		}
		if v.conn < 0 || v.conn >= len(conns) {
			continue
		}
		c := conns[v.conn]
		pos, listed := c.listed[v.chat]
		fmt.Fprintf(w, "connection %d: user %s, node %d, t=%v to t=%v, closed %s, listed the chat: %v (position %d)\n",
			c.id, c.user, c.node, c.start.Round(time.Millisecond), c.end.Round(time.Millisecond), closeName(c.closeStatus), listed, pos)
		for j, rec := range c.recs {
			if rec.chat != v.chat && rec.typ != "resumed" {
				continue
			}
			switch {
			case rec.isAnchor:
				fmt.Fprintf(w, "  #%d t=%v anchor: last_seq %d over REST (for record %d)\n", j, rec.at.Round(time.Millisecond), rec.anchor, rec.ref)
			default:
				fmt.Fprintf(w, "  #%d t=%v %s seq=%d %s\n", j, rec.at.Round(time.Millisecond), rec.typ, rec.seq, rec.user)
			}
		}
	}
}

// command is the command line that repeats the run's choices.
func (r *report) command() string {
	c := r.cfg
	faults := strings.Join(c.Faults, ",")
	if faults == "" {
		faults = "none"
	}
	return fmt.Sprintf("go run ./internal/chatsoak -seed %d -nodes %d -users %d -groups %d -rate %g -duration %v -fault-every %v -fault-down %v -faults %s",
		c.Seed, c.Nodes, c.Users, c.Groups, c.Rate, c.Duration, c.FaultEvery, c.FaultDown, faults)
}

func mapLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
