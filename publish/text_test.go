package publish

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

// TestPostText: a text is posted (one JSON line with its idMessage); a dry
// run prints the request with the token redacted and posts nothing.
func TestPostText(t *testing.T) {
	const id, token = "1101000001", "secret-token-123"
	srv := greenapitest.NewServer(t, id, token)
	client, err := greenapi.New(greenapi.Config{APIURL: srv.URL(), IDInstance: id, Token: token, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := greenapi.TextStatus{Message: "hello", BackgroundColor: "#112233"}
	cfg := NewDefaultConfig()
	cfg.Delivery, cfg.JSON = 0, true
	var out bytes.Buffer
	if err := PostText(t.Context(), client, st, cfg, &out); err != nil {
		t.Fatalf("PostText: %v\n%s", err, out.String())
	}
	var r struct {
		Method, IDMessage string
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Method != "sendTextStatus" || r.IDMessage == "" {
		t.Errorf("line %q (%v), want sendTextStatus with an idMessage", out.String(), err)
	}

	out.Reset()
	cfg.DryRun, cfg.JSON = true, false
	if err := PostText(t.Context(), client, st, cfg, &out); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !strings.HasPrefix(out.String(), "dry   text: would POST ") || !strings.Contains(out.String(), `"message":"hello"`) || strings.Contains(out.String(), token) {
		t.Errorf("dry run line %q", out.String())
	}
}
