package postgres

import (
	"context"
	"fmt"

	"github.com/embedchat/chat"
)

var _ chat.Pinger = (*Store)(nil)

// Ping checks that the database answers, for the Service's readiness
// endpoint. Any failure wraps chat.ErrUnavailable: a database that cannot
// answer is unavailable, whatever the reason.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w: %w", chat.ErrUnavailable, err)
	}
	return nil
}
