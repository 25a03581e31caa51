package chat

import (
	"context"
	"io"
)

// BlobStore keeps the bytes of attachments, each under a key that the
// Service chooses (an attachment's id: 32 lower-case hex digits). Package
// fsblob keeps them in a directory, memory.BlobStore in memory; package
// blobtest checks an implementation.
//
// Every method must be safe for concurrent use. Errors: a key that holds
// no blob is reported as an error wrapping ErrNotFound; a key the store
// cannot hold (empty, or with bytes outside [0-9A-Za-z_-]) as ErrInvalid.
// Every method honours ctx.
type BlobStore interface {
	// Put stores the bytes read from r until io.EOF under key, with
	// contentType, replacing any blob the key held. size is the number of
	// bytes r holds, or -1 when unknown: when it is known and r ends
	// before it or holds more, Put fails with ErrInvalid. Put is atomic:
	// when it fails (r returned an error, which Put wraps, or ctx ended),
	// the key holds what it held before, and a concurrent Get sees the old
	// blob or the new one, never part of one. Put reads r as a stream: it
	// must not hold the whole blob in memory unless it is a store in memory.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error

	// Get opens the blob under key. The caller reads and seeks it, for
	// range requests, and must Close it. A blob opened before a Delete or
	// Put of its key stays readable, unchanged, until closed.
	Get(ctx context.Context, key string) (io.ReadSeekCloser, BlobInfo, error)

	// Delete removes the blob under key. Deleting a key that holds none
	// is not an error, so that a retried delete succeeds.
	Delete(ctx context.Context, key string) error
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	// Size is the blob's length in bytes.
	Size int64
	// ContentType is what Put was given.
	ContentType string
}
