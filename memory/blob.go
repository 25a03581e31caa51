package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/blobkey"
)

var _ chat.BlobStore = (*BlobStore)(nil)

// BlobStore is a chat.BlobStore held in memory, for tests and single-node
// demos: every blob takes its size in memory. The zero value is not usable;
// call NewBlobStore. It is safe for concurrent use.
type BlobStore struct {
	mu    sync.RWMutex
	blobs map[string]blob
}

// blob is never modified once stored, so that readers opened on it stay
// valid after a Put or Delete of its key.
type blob struct {
	data        []byte
	contentType string
}

// NewBlobStore returns an empty BlobStore.
func NewBlobStore() *BlobStore {
	return &BlobStore{blobs: make(map[string]blob)}
}

// Put implements chat.BlobStore. It reads r whole before storing it, so a
// failed read stores nothing.
func (s *BlobStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := blobkey.Check(key); err != nil {
		return fmt.Errorf("memory: put blob: %w", err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, blobkey.ContextReader(ctx, r)); err != nil {
		return fmt.Errorf("memory: put blob %q: %w", key, err)
	}
	if size >= 0 && int64(buf.Len()) != size {
		return fmt.Errorf("memory: put blob %q: read %d bytes, want %d: %w", key, buf.Len(), size, chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[key] = blob{data: buf.Bytes(), contentType: contentType}
	return nil
}

// Get implements chat.BlobStore.
func (s *BlobStore) Get(ctx context.Context, key string) (io.ReadSeekCloser, chat.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, chat.BlobInfo{}, err
	}
	if err := blobkey.Check(key); err != nil {
		return nil, chat.BlobInfo{}, fmt.Errorf("memory: get blob: %w", err)
	}
	s.mu.RLock()
	b, ok := s.blobs[key]
	s.mu.RUnlock()
	if !ok {
		return nil, chat.BlobInfo{}, fmt.Errorf("memory: blob %q: %w", key, chat.ErrNotFound)
	}
	return nopCloser{bytes.NewReader(b.data)}, chat.BlobInfo{Size: int64(len(b.data)), ContentType: b.contentType}, nil
}

// Delete implements chat.BlobStore.
func (s *BlobStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := blobkey.Check(key); err != nil {
		return fmt.Errorf("memory: delete blob: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blobs, key)
	return nil
}

// Len returns the number of blobs stored, for tests that check that
// deletes and garbage collection leave nothing behind.
func (s *BlobStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.blobs)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
