package memory_test

import (
	"testing"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
	"github.com/embedchat/chat/presencetest"
)

func TestPresenceBroker(t *testing.T) {
	presencetest.Run(t, func(t *testing.T) chat.PresenceBroker { return memory.NewBroker() })
}
