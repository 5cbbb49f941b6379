package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

// TestDescribeStatus: a status's line shows its file and caption, or its
// text, on one line and clipped to 40 characters.
func TestDescribeStatus(t *testing.T) {
	long := strings.Repeat("é", 45)
	tests := []struct {
		name string
		s    greenapi.OutgoingStatus
		want string
	}{
		{"file and caption", greenapi.OutgoingStatus{FileName: "a.jpg", Caption: "Sale!"}, `a.jpg "Sale!"`},
		{"file only", greenapi.OutgoingStatus{FileName: "a.mp3"}, "a.mp3"},
		{"text", greenapi.OutgoingStatus{ExtendedTextMessage: &greenapi.ExtendedText{Text: "hi\n  there\t"}}, `"hi there"`},
		{"text over caption", greenapi.OutgoingStatus{Caption: "c", ExtendedTextMessage: &greenapi.ExtendedText{Text: "t"}}, `"t"`},
		{"clipped", greenapi.OutgoingStatus{Caption: long}, `"` + strings.Repeat("é", 39) + `…"`},
		{"40 kept", greenapi.OutgoingStatus{Caption: long[:80]}, `"` + long[:80] + `"`},
		{"nothing", greenapi.OutgoingStatus{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeStatus(tt.s); got != tt.want {
				t.Errorf("describeStatus = %q, want %q", got, tt.want)
			}
		})
	}
}

func newGreen(t *testing.T) (*greenapitest.Server, *greenapi.Client) {
	t.Helper()
	const id, token = "1101000001", "secret-token-123"
	srv := greenapitest.NewServer(t, id, token)
	client, err := greenapi.New(greenapi.Config{APIURL: srv.URL(), IDInstance: id, Token: token, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, client
}

// TestListStatDelete: a sent status is listed (a line, or JSON), its
// statistic shows its participant, and it is deleted; a refused delete prints a FAIL line (a JSON error with asJSON)
// and ends in ErrFailed, or ErrInterrupted when ctx ended.
func TestListStatDelete(t *testing.T) {
	srv, client := newGreen(t)
	ctx := t.Context()
	sent, err := client.SendTextStatus(ctx, greenapi.TextStatus{Message: "hello  world", BackgroundColor: "#112233", Participants: []string{"79001234567@c.us"}})
	if err != nil {
		t.Fatal(err)
	}
	id := sent.IDMessage

	var out bytes.Buffer
	if err := listStatuses(ctx, client, 60, false, &out); err != nil {
		t.Fatalf("listStatuses: %v", err)
	}
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  ` + id + `  extendedTextMessage +sent +"hello world"\n1 statuses in the last 60 minutes\n$`)
	if !line.MatchString(out.String()) {
		t.Errorf("list:\n%s", out.String())
	}
	out.Reset()
	if err := listStatuses(ctx, client, 60, true, &out); err != nil {
		t.Fatalf("listStatuses(json): %v", err)
	}
	var list []greenapi.OutgoingStatus
	if err := json.Unmarshal(out.Bytes(), &list); err != nil || len(list) != 1 || list[0].IDMessage != id {
		t.Errorf("list JSON %q (%v), want the one status", out.String(), err)
	}

	out.Reset()
	if err := statusStatistic(ctx, client, id, false, &out); err != nil {
		t.Fatalf("statusStatistic: %v", err)
	}
	if !regexp.MustCompile(`^\S+  sent +79001234567@c\.us\n1 participants\n$`).MatchString(out.String()) {
		t.Errorf("statistic:\n%s", out.String())
	}

	out.Reset()
	if err := deleteStatus(ctx, client, id, true, &out); err != nil {
		t.Fatalf("deleteStatus: %v", err)
	}
	if want := `{"deleted":"` + id + `"}` + "\n"; out.String() != want {
		t.Errorf("delete printed %q, want %q", out.String(), want)
	}
	if p := srv.Posted(); len(p) != 1 || !p[0].Deleted {
		t.Errorf("Green API statuses %+v, want the one deleted", p)
	}

	srv.Inject("deleteStatus", greenapitest.Fault{Status: http.StatusBadRequest, Body: `{"message":"no"}`})
	out.Reset()
	err = deleteStatus(ctx, client, id, false, &out)
	if !errors.Is(err, ErrFailed) || !strings.HasPrefix(out.String(), "FAIL  ") {
		t.Errorf("refused delete = %v, printed %q; want ErrFailed and a FAIL line", err, out.String())
	}
	srv.Inject("deleteStatus", greenapitest.Fault{Status: http.StatusBadRequest, Body: `{"message":"no"}`})
	out.Reset()
	err = deleteStatus(ctx, client, id, true, &out)
	var e struct{ Error *Error }
	if !errors.Is(err, ErrFailed) || json.Unmarshal(out.Bytes(), &e) != nil || e.Error == nil || e.Error.Code == "" {
		t.Errorf("refused delete (json) = %v, printed %q; want ErrFailed and {\"error\": {code, message}}", err, out.String())
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	out.Reset()
	if err := listStatuses(canceled, client, 60, false, &out); !errors.Is(err, ErrInterrupted) {
		t.Errorf("listStatuses(canceled) = %v, want ErrInterrupted", err)
	}
}

// jobService is a service that knows the jobs j1 (canceled when deleted)
// and j2 (refused); any other id is unknown (404).
func jobService(t *testing.T) *Service {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		switch r.URL.Path {
		case "/v1/statuses/j1":
			_, _ = io.WriteString(w, `{"id": "j1", "state": "canceled"}`)
		case "/v1/statuses/j2":
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error": {"code": "busy", "message": "being posted"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error": {"code": "not_found", "message": "no such job"}}`)
		}
	}))
	t.Cleanup(hs.Close)
	svc, err := NewService(hs.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestDelete: ids are taken as jobs of the service first; the ones it
// does not know are deleted as idMessages with Green API, whose client is
// only made then. A refused job counts as failed.
func TestDelete(t *testing.T) {
	srv, client := newGreen(t)
	ctx := t.Context()
	sent, err := client.SendTextStatus(ctx, greenapi.TextStatus{Message: "x", BackgroundColor: "#112233"})
	if err != nil {
		t.Fatal(err)
	}
	green := func() (*greenapi.Client, error) { return client, nil }
	var out bytes.Buffer
	err = deleteIDs(ctx, jobService(t), []string{"j1", "j2", sent.IDMessage}, green, false, &out)
	if !errors.Is(err, ErrFailed) {
		t.Errorf("deleteIDs = %v, want ErrFailed (j2 refused)", err)
	}
	if want := "canceled j1\nFAIL  j2: busy: being posted\ndeleted " + sent.IDMessage + "\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	if p := srv.Posted(); len(p) != 1 || !p[0].Deleted {
		t.Errorf("Green API statuses %+v, want the one deleted", p)
	}

	out.Reset()
	noGreen := func() (*greenapi.Client, error) {
		t.Error("Green API client made for job ids only")
		return nil, errors.New("no")
	}
	if err := deleteIDs(ctx, jobService(t), []string{"j1"}, noGreen, true, &out); err != nil {
		t.Errorf("deleteIDs(j1) = %v", err)
	}
	if want := `{"idMessage":"","job":"j1","state":"canceled"}` + "\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}

	boom := errors.New("no token")
	err = deleteIDs(ctx, nil, []string{"a", "b"}, func() (*greenapi.Client, error) { return nil, boom }, false, io.Discard)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "a, b: not a job of the service") {
		t.Errorf("deleteIDs without Green API settings = %v, want it to name the ids and wrap the settings' error", err)
	}
}

// TestNewService: the base URL loses spaces and trailing slashes; one
// that is not http(s)://host is refused, named in the error.
func TestNewService(t *testing.T) {
	if s, err := NewService(" http://127.0.0.1:8080/ ", "k"); err != nil || s.base != "http://127.0.0.1:8080" {
		t.Errorf("NewService = %+v, %v", s, err)
	}
	for _, bad := range []string{"127.0.0.1:8080", "ftp://h", "http://", "http://h\x7f"} {
		if _, err := NewService(bad, ""); err == nil || !strings.Contains(err.Error(), "want http(s)://host:port") {
			t.Errorf("NewService(%q) = %v, want an error", bad, err)
		}
	}
}

// TestStatusesQuery: one idMessage without a service is deleted on its
// own (a bad Green API setting returned as it is); several ids, split on
// commas and taken from More, each get their line, a JSON one with asJSON
// even when Green API refused the id.
func TestStatusesQuery(t *testing.T) {
	srv, client := newGreen(t)
	green := func() (*greenapi.Client, error) { return client, nil }
	var out bytes.Buffer
	if err := Statuses(t.Context(), StatusQuery{Delete: "A1"}, nil, green, false, &out); err != nil || out.String() != "deleted A1\n" {
		t.Errorf("Statuses(delete A1) = %v, printed %q", err, out.String())
	}
	out.Reset()
	if err := Statuses(t.Context(), StatusQuery{Delete: "B1, B2,", More: []string{"B3"}}, nil, green, true, &out); err != nil ||
		out.String() != `{"deleted":"B1"}`+"\n"+`{"deleted":"B2"}`+"\n"+`{"deleted":"B3"}`+"\n" {
		t.Errorf("Statuses(delete B1, B2, B3) = %v, printed %q", err, out.String())
	}
	if n := srv.Count("deleteStatus"); n != 4 {
		t.Errorf("%d deleteStatus calls, want 4", n)
	}

	// With --json a refused idMessage among several is a JSON line too,
	// naming the id, like a refused job.
	srv.Inject("deleteStatus", greenapitest.Fault{Status: http.StatusBadRequest, Body: `{"message":"no"}`})
	out.Reset()
	if err := Statuses(t.Context(), StatusQuery{Delete: "C1,C2"}, nil, green, true, &out); !errors.Is(err, ErrFailed) {
		t.Errorf("Statuses(delete C1 refused, C2) = %v, want ErrFailed", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var refused struct {
		IDMessage string
		Error     *Error
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &refused) != nil || refused.IDMessage != "C1" || refused.Error == nil || refused.Error.Code == "" || refused.Error.Message == "" ||
		lines[1] != `{"deleted":"C2"}` {
		t.Errorf("Statuses(delete C1 refused, C2; json) printed %q, want {\"idMessage\":\"C1\",\"error\":{code, message}} then {\"deleted\":\"C2\"}", out.String())
	}
	boom := errors.New("no token")
	if err := Statuses(t.Context(), StatusQuery{Delete: "A1"}, nil, func() (*greenapi.Client, error) { return nil, boom }, false, io.Discard); !errors.Is(err, boom) || err.Error() != boom.Error() {
		t.Errorf("Statuses without Green API settings = %v, want the settings' error as it is", err)
	}
}
