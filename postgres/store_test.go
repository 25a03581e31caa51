package postgres

import (
	"testing"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/storetest"
)

func TestStore(t *testing.T) {
	db := openTestDB(t, 16)
	storetest.Run(t, func(t *testing.T) chat.Store {
		return newTestStore(t, db)
	})
}
