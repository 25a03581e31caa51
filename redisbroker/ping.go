package redisbroker

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
)

var _ chat.Pinger = (*Broker)(nil)

// Ping checks that Redis answers on the publishing client (every master on
// a cluster), for the Service's readiness endpoint. Failures wrap
// chat.ErrUnavailable.
func (b *Broker) Ping(ctx context.Context) error {
	var err error
	if b.cluster != nil {
		err = b.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		})
	} else {
		err = b.client.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("redisbroker: ping: %w: %w", chat.ErrUnavailable, err)
	}
	return nil
}
