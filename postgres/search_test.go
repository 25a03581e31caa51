package postgres

import (
	"testing"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/searchtest"
)

func TestSearch(t *testing.T) {
	db := openTestDB(t, 4)
	searchtest.Run(t, func(t *testing.T) chat.Store {
		return newTestStore(t, db)
	})
}
