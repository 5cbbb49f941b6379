package service

import (
	"net/http/httptest"
	"testing"

	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// servedDir is a storage.Dir in a temporary folder whose objects are
// served on loopback at its PublicBaseURL (as links to post), and its root.
func servedDir(t testing.TB) (*storage.Dir, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	root := t.TempDir()
	dir, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://" + srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = dir.MediaHandler()
	srv.Start()
	t.Cleanup(srv.Close)
	return dir, root
}

// newTranscoder is a transcoder with the default settings.
func newTranscoder(t testing.TB) *transcode.Transcoder {
	t.Helper()
	tr, err := transcode.New(transcode.NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
