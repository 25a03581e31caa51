package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
)

var _ chat.PresenceBroker = (*Broker)(nil)

// Presence keys, each behind Config.Prefix. Per user, in one hash slot
// (the escaped user id is the hash tag):
//
//	presence:{<user>}       sorted set: node -> expiry (ms), PEXPIREAT the latest
//	presence:{<user>}:seen  last seen time (ms), kept for PresenceRetention
//
// Per cluster of Services, in one slot:
//
//	presence:{nodes}         sorted set: node -> lease expiry (ms)
//	presence:{nodes}:<node>  set of the node's users, for the reaper
//
// Times are the Redis server's (TIME), so nodes' clocks do not matter; on a
// Cluster each user's times are those of their shard.
const (
	// PresenceRetention is how long a user's last seen time is kept after
	// their latest presence change.
	PresenceRetention = 30 * 24 * time.Hour
	// presenceChunk bounds the users of one script call or SREM.
	presenceChunk = 500
	// nodeSetLeases is how many leases a node's user set, and a user's
	// entries, outlive the node's last renewal, so that a reaper still
	// finds them.
	nodeSetLeases = 4
)

// luaNow is the server time in milliseconds.
const luaNow = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// presenceOnline records KEYS[1]'s entry of node ARGV[1] for ARGV[2] ms and
// the last seen time KEYS[2], kept ARGV[3] ms. It returns 1 if the user had
// no unexpired entry before; their expired ones are dropped, as the call
// reports the transition itself. The key outlives its latest entry by a
// few leases, long enough for a reaper to find an expired entry, and no
// longer: with every node gone, nothing is left behind.
var presenceOnline = newScript(luaNow + `
local live = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + ` + strconv.Itoa(nodeSetLeases-1) + ` * tonumber(ARGV[2]))
redis.call('SET', KEYS[2], now, 'PX', ARGV[3])
if live == 0 then return 1 end
return 0
`)

// presenceOffline removes KEYS[1]'s entry of node ARGV[1], and with
// ARGV[3] == "1" records now as last seen (KEYS[2], kept ARGV[2] ms). It
// returns {1, last seen} if there was an entry and no unexpired one is
// left, {0, ""} otherwise.
var presenceOffline = newScript(luaNow + `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return {0, ''} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[3] == '1' then redis.call('SET', KEYS[2], now, 'PX', ARGV[2]) end
if redis.call('ZCARD', KEYS[1]) > 0 then return {0, ''} end
return {1, redis.call('GET', KEYS[2]) or ''}
`)

// presenceRead returns {number of unexpired entries, last seen or ""}.
var presenceRead = newScript(luaNow + `
return {redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf'), redis.call('GET', KEYS[2]) or ''}
`)

// presenceLease renews node ARGV[1]'s lease in KEYS[1] for ARGV[2] ms and
// adds users ARGV[3...] to its set KEYS[2].
var presenceLease = newScript(luaNow + `
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if #ARGV > 2 then redis.call('SADD', KEYS[2], unpack(ARGV, 3)) end
redis.call('PEXPIRE', KEYS[2], ` + strconv.Itoa(nodeSetLeases) + ` * tonumber(ARGV[2]))
return 1
`)

// presenceReap takes the nodes whose lease expired out of KEYS[1] and
// returns them: whoever removes a node handles it.
var presenceReap = newScript(luaNow + `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, n in ipairs(dead) do redis.call('ZREM', KEYS[1], n) end
return dead
`)

// userKeys returns the keys of user's entries and last seen time. The user
// id is the hash tag, escaped so that braces in it cannot end the tag
// early or leave it empty.
func (b *Broker) userKeys(user string) []string {
	tag := strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D").Replace(user)
	k := b.cfg.Prefix + "presence:{" + tag + "}"
	return []string{k, k + ":seen"}
}

func (b *Broker) nodeKeys(node string) []string {
	k := b.cfg.Prefix + "presence:{nodes}"
	return []string{k, k + ":" + node}
}

// script is a Lua script and its source, which a server that lost it
// (restarted, or a new shard) is given again.
type script struct {
	src string
	*redis.Script
}

func newScript(src string) script { return script{src: src, Script: redis.NewScript(src)} }

// scriptCall is one run of a script.
type scriptCall struct {
	keys []string
	args []any
}

// evalAll runs script once per call, in one pipeline. Calls that fail
// because a server lacks the script (it restarted, or the shard is new)
// did not run: the script is loaded and they are run again.
func (b *Broker) evalAll(ctx context.Context, s script, calls []scriptCall) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(calls))
	todo := make([]int, len(calls))
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		pipe := b.client.Pipeline()
		for _, i := range todo {
			cmds[i] = s.EvalSha(ctx, pipe, calls[i].keys, calls[i].args...)
		}
		_, _ = pipe.Exec(ctx)
		var missing []int
		for _, i := range todo {
			err := cmds[i].Err()
			switch {
			case err == nil:
			case redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0:
				missing = append(missing, i)
			default:
				return nil, unavailable(err)
			}
		}
		if len(missing) > 0 {
			if err := b.client.ScriptLoad(ctx, s.src).Err(); err != nil {
				return nil, unavailable(err)
			}
		}
		todo = missing
	}
	return cmds, nil
}

// unavailable wraps a Redis failure as chat.ErrUnavailable, unless it is
// the caller's context ending.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("redisbroker: presence: %w", err)
	}
	return fmt.Errorf("redisbroker: presence: %w: %w", chat.ErrUnavailable, err)
}

// SetOnline implements chat.PresenceBroker: it renews node's lease, then
// records each user's entry, in pipelines of scripts.
func (b *Broker) SetOnline(ctx context.Context, node string, users []string, ttl time.Duration) ([]string, error) {
	ms := max(ttl.Milliseconds(), 1)
	nk := b.nodeKeys(node)
	var leases []scriptCall
	for start := 0; start == 0 || start < len(users); start += presenceChunk {
		args := []any{node, ms}
		for _, u := range users[start:min(start+presenceChunk, len(users))] {
			args = append(args, u)
		}
		leases = append(leases, scriptCall{keys: nk, args: args})
	}
	if _, err := b.evalAll(ctx, presenceLease, leases); err != nil {
		return nil, err
	}
	calls := make([]scriptCall, len(users))
	for i, u := range users {
		calls[i] = scriptCall{keys: b.userKeys(u), args: []any{node, ms, PresenceRetention.Milliseconds()}}
	}
	cmds, err := b.evalAll(ctx, presenceOnline, calls)
	if err != nil {
		return nil, err
	}
	var came []string
	for i, cmd := range cmds {
		if n, _ := cmd.Int64(); n == 1 {
			came = append(came, users[i])
		}
	}
	return came, nil
}

// SetOffline implements chat.PresenceBroker.
func (b *Broker) SetOffline(ctx context.Context, node string, users []string) ([]chat.Presence, error) {
	gone, err := b.leave(ctx, node, users, true)
	if err != nil {
		return nil, err
	}
	nk := b.nodeKeys(node)
	pipe := b.client.Pipeline()
	for start := 0; start < len(users); start += presenceChunk {
		members := make([]any, 0, presenceChunk)
		for _, u := range users[start:min(start+presenceChunk, len(users))] {
			members = append(members, u)
		}
		pipe.SRem(ctx, nk[1], members...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		// The entries are gone; a stale member of the node's set only
		// costs the reaper a no-op.
		return nil, unavailable(err)
	}
	return gone, nil
}

// leave removes node's entries of users and returns those left offline.
func (b *Broker) leave(ctx context.Context, node string, users []string, seenNow bool) ([]chat.Presence, error) {
	flag := "0"
	if seenNow {
		flag = "1"
	}
	calls := make([]scriptCall, len(users))
	for i, u := range users {
		calls[i] = scriptCall{keys: b.userKeys(u), args: []any{node, PresenceRetention.Milliseconds(), flag}}
	}
	cmds, err := b.evalAll(ctx, presenceOffline, calls)
	if err != nil {
		return nil, err
	}
	var gone []chat.Presence
	for i, cmd := range cmds {
		res, _ := cmd.Slice()
		if len(res) != 2 || res[0] != int64(1) {
			continue
		}
		gone = append(gone, chat.Presence{UserID: users[i], LastSeenAt: parseMillis(res[1])})
	}
	return gone, nil
}

// ExpireNodes implements chat.PresenceBroker. The script that takes an
// expired node out of the registry makes its caller the only one to handle
// it; a caller that fails halfway leaves the node's remaining entries to
// expire unreported.
func (b *Broker) ExpireNodes(ctx context.Context) ([]chat.Presence, error) {
	registry := b.nodeKeys("")[0]
	dead, err := presenceReap.Run(ctx, b.client, []string{registry}).StringSlice()
	if err != nil {
		return nil, unavailable(err)
	}
	var gone []chat.Presence
	for _, node := range dead {
		set := b.nodeKeys(node)[1]
		users, err := b.client.SMembers(ctx, set).Result()
		if err != nil {
			return gone, unavailable(err)
		}
		left, err := b.leave(ctx, node, users, false)
		if err != nil {
			return gone, err
		}
		gone = append(gone, left...)
		if err := b.client.Del(ctx, set).Err(); err != nil {
			return gone, unavailable(err)
		}
	}
	return gone, nil
}

// Presence implements chat.PresenceBroker.
func (b *Broker) Presence(ctx context.Context, users []string) ([]chat.Presence, error) {
	calls := make([]scriptCall, len(users))
	for i, u := range users {
		calls[i] = scriptCall{keys: b.userKeys(u)}
	}
	cmds, err := b.evalAll(ctx, presenceRead, calls)
	if err != nil {
		return nil, err
	}
	out := make([]chat.Presence, len(users))
	for i, cmd := range cmds {
		out[i].UserID = users[i]
		res, _ := cmd.Slice()
		if len(res) != 2 {
			return nil, fmt.Errorf("redisbroker: presence: unexpected reply %v", res)
		}
		n, _ := res[0].(int64)
		out[i].Online = n > 0
		out[i].LastSeenAt = parseMillis(res[1])
	}
	return out, nil
}

// parseMillis reads a time stored in Unix milliseconds; nil for "".
func parseMillis(v any) *time.Time {
	s, _ := v.(string)
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	at := time.UnixMilli(ms).UTC()
	return &at
}
