package memory_test

import (
	"testing"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/blobtest"
	"github.com/embedchat/chat/memory"
)

func TestBlobStore(t *testing.T) {
	blobtest.Run(t, func(*testing.T) chat.BlobStore { return memory.NewBlobStore() })
}
