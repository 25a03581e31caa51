package memory_test

import (
	"testing"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
	"github.com/embedchat/chat/searchtest"
)

func TestSearch(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) chat.Store { return memory.NewStore() })
}
