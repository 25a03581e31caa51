package fsblob_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/blobtest"
	"github.com/embedchat/chat/fsblob"
)

func TestStore(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) chat.BlobStore {
		s, err := fsblob.New(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

// A symbolic link planted in the directory does not lead a key outside
// it, and a failed Put leaves no temporary file behind.
func TestStoreStaysInItsDirectory(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("embedchat-blob 1 text/plain\nsecret"), 0o600))
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")))
	s, err := fsblob.New(dir)
	require.NoError(t, err)
	defer s.Close()

	_, _, err = s.Get(ctx, "link")
	require.Error(t, err, "a link out of the directory is not followed")

	err = s.Put(ctx, "k", strings.NewReader("abc"), 5, "text/plain")
	require.ErrorIs(t, err, chat.ErrInvalid)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the planted link is left: %v", entries)
}
