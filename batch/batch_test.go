package batch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/pipeline"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCollectAndMeta: a folder gives its media files (not hidden ones,
// sidecars, manifests or the output folder), once each; a manifest entry
// and then a sidecar set a file's status fields.
func TestCollectAndMeta(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jpg"), "a")
	write(t, filepath.Join(dir, "a.jpg.json"), `{"caption": "from the sidecar"}`)
	write(t, filepath.Join(dir, "b.mp4"), "b")
	write(t, filepath.Join(dir, ".hidden.jpg"), "h")
	write(t, filepath.Join(dir, "out", "old.jpg"), "o")
	write(t, filepath.Join(dir, "manifest.json"), `[{"file": "b.mp4", "caption": "from the manifest", "participants": ["79001234567@c.us"]}]`)

	files, manifests, err := Collect([]string{dir, filepath.Join(dir, "a.jpg")}, filepath.Join(dir, "out"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.jpg"), filepath.Join(dir, "b.mp4")}
	if !slices.Equal(files, want) || len(manifests) != 1 {
		t.Fatalf("Collect = %v, %v; want %v and the manifest", files, manifests, want)
	}
	byFile, err := ReadManifests(manifests, files)
	if err != nil {
		t.Fatal(err)
	}
	if st := byFile[want[1]].Apply(pipeline.Status{Caption: "flag"}); st.Caption != "from the manifest" || len(st.Participants) != 1 {
		t.Errorf("manifest gives %+v", st)
	}
	side, err := ReadSidecar(want[0] + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if st := side.Apply(pipeline.Status{Caption: "flag", BackgroundColor: "#000000"}); st.Caption != "from the sidecar" || st.BackgroundColor != "#000000" {
		t.Errorf("sidecar gives %+v", st)
	}
	if m, err := ReadSidecar(filepath.Join(dir, "none.json")); err != nil || m.Caption != nil {
		t.Errorf("missing sidecar: %+v, %v", m, err)
	}
	write(t, filepath.Join(dir, "c.jpg.json"), `{"file": "c.jpg"}`)
	if _, err := ReadSidecar(filepath.Join(dir, "c.jpg.json")); err == nil || !strings.Contains(err.Error(), "belongs in a manifest") {
		t.Errorf("sidecar naming a file: %v", err)
	}
}

// TestManifestTooBig: a manifest over MaxManifest stops the run with
// bad_metadata naming the limit, though what it holds (an empty list
// padded with spaces) would read fine.
func TestManifestTooBig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	write(t, path, "["+strings.Repeat(" ", MaxManifest-1)+"]")
	if _, err := ReadManifests([]string{path}, nil); err == nil ||
		!strings.HasPrefix(err.Error(), pipeline.CodeBadMetadata+": manifest ") || !strings.Contains(err.Error(), "over the 16777216 byte limit") {
		t.Errorf("ReadManifests(MaxManifest+1 bytes) = %v, want bad_metadata over the 16777216 byte limit", err)
	}
	write(t, path, "["+strings.Repeat(" ", MaxManifest-2)+"]")
	if m, err := ReadManifests([]string{path}, nil); err != nil || len(m) != 0 {
		t.Errorf("ReadManifests(MaxManifest bytes) = %v, %v; want no entries", m, err)
	}
}
