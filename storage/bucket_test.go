package storage_test

import (
	"context"
	"io"

	"github.com/mediaprep/mediaprep/storage"
)

// bucket is service.Bucket (pipeline.Store plus the service's methods),
// declared here because package service imports storage.
type bucket interface {
	Key(digest, slug, ext string) string
	Lookup(ctx context.Context, key string) (storage.Object, bool, error)
	Put(ctx context.Context, key string, body io.Reader, obj storage.Object) (storage.Object, error)
	Link(ctx context.Context, key string) (storage.Link, error)
	Ping(ctx context.Context) error
	List(ctx context.Context, prefix string) ([]storage.Object, error)
	Download(ctx context.Context, key, dst string) (storage.Object, error)
	PutFile(ctx context.Context, key, path string, obj storage.Object) (storage.Object, error)
	Move(ctx context.Context, from, to string) error
	Delete(ctx context.Context, key string) error
}

var (
	_ bucket = (*storage.Store)(nil)
	_ bucket = (*storage.Dir)(nil)
)
