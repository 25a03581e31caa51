// Package blobkey holds what the chat.BlobStore implementations of this
// module share: the check of a key and a reader that stops when its
// context ends.
package blobkey

import (
	"context"
	"fmt"
	"io"

	"github.com/embedchat/chat"
)

// MaxLen bounds a key, well below any file system's name limit.
const MaxLen = 128

// Check accepts a key of 1 to MaxLen bytes of [0-9A-Za-z_-]: no separator,
// no dot, nothing a file system or URL treats specially, so that a key can
// be a file name as it is and never names a path outside a directory.
func Check(key string) error {
	if key == "" || len(key) > MaxLen {
		return fmt.Errorf("blob key of %d bytes, want 1 to %d: %w", len(key), MaxLen, chat.ErrInvalid)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return fmt.Errorf("blob key %q has a byte outside [0-9A-Za-z_-]: %w", key, chat.ErrInvalid)
		}
	}
	return nil
}

// ContextReader returns r, failing with ctx's error once ctx ends, so that
// a Put copying a slow stream stops with its caller.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
