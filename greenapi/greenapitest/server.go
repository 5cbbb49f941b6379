package greenapitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mediaprep/mediaprep/greenapi/internal/grapheme"
)

// Fault is an answer to inject instead of (or around) the normal one.
type Fault struct {
	Status     int           // answer this HTTP status instead of the normal answer (0: normal answer)
	RetryAfter string        // Retry-After header sent with Status
	Body       string        // body sent with Status; a short default if empty
	Delay      time.Duration // wait this long before answering
	Hang       bool          // never answer until the request's context ends
	Drop       bool          // close the connection without answering
	// Accept records the status as accepted even though no answer reaches
	// the client (with Hang, Drop or Delay) or an error is answered (with
	// Status): "accepted, but the answer was lost".
	Accept bool
}

// Status is a status the server accepted.
type Status struct {
	Method             string         // sendMediaStatus, sendVoiceStatus or sendTextStatus
	IDMessage          string         // the idMessage answered
	Body               map[string]any // the request body, decoded
	URLFile            string         // media and voice only
	FetchedContentType string         // Content-Type urlFile answered with
	Time               time.Time      // when it was accepted
	Reason             string         // for Undelivered: why it will never reach anyone
	Deleted            bool           // deleteStatus was called for it
}

// Call is one request the server saw.
type Call struct {
	Method     string    // Green API method from the path ("" if the path did not parse)
	HTTPMethod string    // GET, POST...
	Status     int       // HTTP status answered; 0 if none was (hang, client gone)
	Time       time.Time // arrival
}

// Server is a running stand-in for one Green API instance.
type Server struct {
	srv   *httptest.Server
	media *httptest.Server // the instance's mediaUrl: uploadFile, and the files it hosts
	id    string
	token string
	fetch *http.Client
	quit  chan struct{}
	files string // folder of uploaded files

	mu          sync.Mutex
	faults      map[string][]Fault
	posted      []Status
	undelivered []Status
	calls       []Call
	errs        []string
	uploads     []Upload
	uploadLimit int64
	hold        bool              // new statuses stay out of getOutgoingStatuses until SetStatusMessage
	progress    map[string]string // idMessage → statusMessage shown; "" hides it
}

// Upload is a file uploadFile accepted.
type Upload struct {
	URLFile     string // the link answered, on the media host
	ContentType string // Content-Type the upload came with
	FileName    string // GA-Filename, if sent
	Size        int64
	SHA256      string // hex digest of the body
	Time        time.Time
}

// DefaultUploadLimit is uploadFile's limit (100 MB), as Green API documents it.
const DefaultUploadLimit = 100 << 20

// NewServer starts a stand-in for instance idInstance with apiTokenInstance
// token; it is closed when the test ends.
func NewServer(t testing.TB, idInstance, token string) *Server {
	t.Helper()
	s := &Server{
		id:          idInstance,
		token:       token,
		fetch:       &http.Client{Timeout: 10 * time.Second},
		quit:        make(chan struct{}),
		faults:      map[string][]Fault{},
		files:       t.TempDir(),
		uploadLimit: DefaultUploadLimit,
		progress:    map[string]string{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.media = httptest.NewServer(http.HandlerFunc(s.serveMedia))
	t.Cleanup(func() {
		close(s.quit)
		s.srv.Close()
		s.media.Close()
		s.fetch.CloseIdleConnections()
	})
	return s
}

// URL returns the APIURL to give the client.
func (s *Server) URL() string { return s.srv.URL }

// MediaURL returns the MediaURL to give the client: uploadFile is served
// there, and so are the files it hosts. (uploadFile is answered on URL
// too, as a client deriving its media host from a custom API host sends it
// there.)
func (s *Server) MediaURL() string { return s.media.URL }

// SetUploadLimit sets the largest upload accepted (default 100 MB); a
// bigger one is refused as Green API refuses it.
func (s *Server) SetUploadLimit(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uploadLimit = n
}

// Uploads returns the files uploadFile accepted, in order.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.uploads)
}

// HoldStatuses makes statuses accepted from now on stay out of
// getOutgoingStatuses (not yet sent by the phone) until SetStatusMessage
// shows them; false shows new ones at once as "sent" again.
func (s *Server) HoldStatuses(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = hold
}

// SetStatusMessage sets the statusMessage getOutgoingStatuses shows for
// the status idMessage: "sent", "delivered", "read", or "" to hide it.
func (s *Server) SetStatusMessage(idMessage, statusMessage string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress[idMessage] = statusMessage
}

// Inject makes the next len(faults) calls of method ("" = any method) get
// these faults, in order. Faults for a named method are used before faults
// for any method.
func (s *Server) Inject(method string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], faults...)
}

// Posted returns the statuses accepted for delivery, in order.
func (s *Server) Posted() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posted)
}

// Undelivered returns the statuses answered with 200 and an idMessage that
// Green API would never deliver, each with its Reason.
func (s *Server) Undelivered() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.undelivered)
}

// Requests returns every request seen, in arrival order.
func (s *Server) Requests() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Count returns how many requests of method ("" = all) arrived.
func (s *Server) Count(method string) int {
	n := 0
	for _, c := range s.Requests() {
		if method == "" || c.Method == method {
			n++
		}
	}
	return n
}

// MaxPerSecond returns the largest number of requests of method that
// arrived within any one-second window [t, t+1s). method "" counts the
// three send methods together, as Green API's limit does.
func (s *Server) MaxPerSecond(method string) int {
	var ts []time.Time
	for _, c := range s.Requests() {
		if c.Method == method || (method == "" && isSend(c.Method)) {
			ts = append(ts, c.Time)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best := 0
	for i, j := 0, 0; j < len(ts); j++ {
		for ts[j].Sub(ts[i]) >= time.Second {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// Errors returns the protocol violations the server refused, in order.
func (s *Server) Errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// Method names.
const (
	sendMedia   = "sendMediaStatus"
	sendVoice   = "sendVoiceStatus"
	sendText    = "sendTextStatus"
	getOutgoing = "getOutgoingStatuses"
	getStat     = "getStatusStatistic"
	deleteSt    = "deleteStatus"
	uploadFile  = "uploadFile"
)

func isSend(m string) bool { return m == sendMedia || m == sendVoice || m == sendText }

// answer is what the normal handling decided.
type answer struct {
	status int
	body   []byte
	rec    *Status // status to record if the answer goes out (or Accept)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	method, pathOK := s.methodOf(r.URL.Path)
	s.mu.Lock()
	idx := len(s.calls)
	s.calls = append(s.calls, Call{Method: method, HTTPMethod: r.Method, Time: arrival})
	f, faulted := s.popFault(method)
	s.mu.Unlock()

	var a answer
	if pathOK {
		a = s.handle(r, method)
	} else {
		a = s.refuse(http.StatusNotFound, "path %q is not /waInstance{idInstance}/{method}/{apiTokenInstance}", s.redactPath(r.URL.Path))
	}

	if faulted && f.Accept {
		s.commit(a.rec)
		a.rec = nil
	}
	if faulted && f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection too
	}
	if faulted && f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
		return
	}
	if faulted && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.quit:
			t.Stop()
			return
		case <-t.C:
		}
	}
	if faulted && f.Status != 0 {
		a = answer{status: f.Status, body: []byte(f.Body)}
		if f.Body == "" {
			a.body = defaultBody(f.Status)
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
	}
	s.commit(a.rec)
	if len(a.body) > 0 && a.body[0] == '{' || len(a.body) > 0 && a.body[0] == '[' {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body) // a failed write shows as a short body to the client under test
	s.mu.Lock()
	s.calls[idx].Status = a.status
	s.mu.Unlock()
}

// popFault takes the next fault for method; s.mu is held.
func (s *Server) popFault(method string) (Fault, bool) {
	for _, key := range []string{method, ""} {
		if q := s.faults[key]; len(q) > 0 {
			s.faults[key] = q[1:]
			return q[0], true
		}
	}
	return Fault{}, false
}

// commit records an accepted status.
func (s *Server) commit(rec *Status) {
	if rec == nil {
		return
	}
	rec.Time = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, set := s.progress[rec.IDMessage]; !set {
		s.progress[rec.IDMessage] = map[bool]string{true: "", false: "sent"}[s.hold]
	}
	if rec.Reason != "" {
		s.undelivered = append(s.undelivered, *rec)
	} else {
		s.posted = append(s.posted, *rec)
	}
}

// methodOf parses the path; ok is false if it has the wrong shape.
func (s *Server) methodOf(p string) (method string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "waInstance") || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// redactPath hides the token, and whatever sits where it should be.
func (s *Server) redactPath(p string) string {
	if s.token != "" {
		p = strings.ReplaceAll(p, s.token, "<token>")
	}
	parts := strings.Split(p, "/")
	if len(parts) > 3 {
		parts[3] = "<token>"
	}
	return strings.Join(parts, "/")
}

// refuse records a protocol violation and answers status.
func (s *Server) refuse(status int, format string, a ...any) answer {
	msg := fmt.Sprintf(format, a...)
	s.mu.Lock()
	s.errs = append(s.errs, msg)
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"code": status, "description": msg})
	return answer{status: status, body: b}
}

func (s *Server) handle(r *http.Request, method string) answer {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if id := strings.TrimPrefix(parts[0], "waInstance"); id != s.id {
		return s.refuse(http.StatusForbidden, "idInstance %q is not this instance", id)
	}
	if parts[2] != s.token {
		return s.refuse(http.StatusUnauthorized, "apiTokenInstance does not match")
	}
	var wantHTTP string
	switch method {
	case uploadFile:
		if r.Method != http.MethodPost {
			return s.refuse(http.StatusMethodNotAllowed, "%s wants POST, got %s", method, r.Method)
		}
		return s.handleUpload(r)
	case sendMedia, sendVoice, sendText, deleteSt:
		wantHTTP = http.MethodPost
	case getOutgoing, getStat:
		wantHTTP = http.MethodGet
	default:
		return s.refuse(http.StatusNotFound, "unknown method %q", method)
	}
	if r.Method != wantHTTP {
		return s.refuse(http.StatusMethodNotAllowed, "%s wants %s, got %s", method, wantHTTP, r.Method)
	}
	if wantHTTP == http.MethodGet {
		return s.handleGet(r, method)
	}
	if r.URL.RawQuery != "" {
		return s.refuse(http.StatusBadRequest, "%s takes no query string", method)
	}
	fields, bad := s.readJSON(r, method)
	if bad != nil {
		return *bad
	}
	if method == deleteSt {
		return s.handleDelete(fields)
	}
	return s.handleSend(r.Context(), method, fields)
}

// allowed lists each POST method's fields; true marks a required one.
var allowed = map[string]map[string]bool{
	sendMedia: {"urlFile": true, "fileName": true, "caption": false, "participants": false},
	sendVoice: {"urlFile": true, "fileName": true, "backgroundColor": false, "participants": false},
	sendText:  {"message": true, "backgroundColor": false, "font": false, "participants": false},
	deleteSt:  {"idMessage": true},
}

// readJSON checks the headers and body of a POST and decodes its fields.
func (s *Server) readJSON(r *http.Request, method string) (map[string]any, *answer) {
	fail := func(format string, a ...any) (map[string]any, *answer) {
		ans := s.refuse(http.StatusBadRequest, method+": "+format, a...)
		return nil, &ans
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fail("Content-Type %q, want application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fail("charset %q, want utf-8", cs)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return fail("reading body: %v", err)
	}
	if len(body) > 1<<20 {
		return fail("body larger than 1 MiB")
	}
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		return fail("body starts with a UTF-8 BOM")
	}
	if !utf8.Valid(body) {
		return fail("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return fail("body is not a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("data after the JSON object")
	}
	want := allowed[method]
	fields := map[string]any{}
	for k, v := range raw {
		_, ok := want[k]
		if !ok {
			return fail("unknown field %q", k)
		}
		if k == "participants" {
			var ps []string
			if err := json.Unmarshal(v, &ps); err != nil || ps == nil {
				return fail("participants must be an array of strings")
			}
			list := make([]any, len(ps))
			for i, p := range ps {
				list[i] = p
			}
			fields[k] = list
			continue
		}
		var str *string
		if err := json.Unmarshal(v, &str); err != nil || str == nil {
			return fail("%s must be a string", k)
		}
		if *str == "" {
			return fail("%s is an empty string; leave the field out instead", k)
		}
		fields[k] = *str
	}
	for k, req := range want {
		if _, ok := fields[k]; req && !ok {
			return fail("required field %s is missing", k)
		}
	}
	return fields, nil
}

var fonts = []string{"SERIF", "SANS_SERIF", "NORICAN_REGULAR", "BRYNDAN_WRITE", "OSWALD_HEAVY"}

func (s *Server) handleSend(ctx context.Context, method string, f map[string]any) answer {
	str := func(k string) string { v, _ := f[k].(string); return v }
	if ps, ok := f["participants"].([]any); ok {
		for _, p := range ps {
			if !isChatID(p.(string)) {
				return s.refuse(http.StatusBadRequest, "%s: participant %q is not digits@c.us", method, p)
			}
		}
	}
	if c := str("backgroundColor"); c != "" && !isColor(c) {
		return s.refuse(http.StatusBadRequest, "%s: backgroundColor %q is not #RRGGBB", method, c)
	}
	rec := &Status{Method: method, IDMessage: newID(), Body: f}
	switch method {
	case sendText:
		msg := str("message")
		if strings.TrimSpace(msg) == "" {
			return s.refuse(http.StatusBadRequest, "%s: message is blank", method)
		}
		if n := grapheme.Count(msg); n > 500 {
			return s.refuse(http.StatusBadRequest, "%s: message has %d characters, at most 500", method, n)
		}
		if ft := str("font"); ft != "" && !slices.Contains(fonts, ft) {
			return s.refuse(http.StatusBadRequest, "%s: font %q is not one of %v", method, ft, fonts)
		}
	case sendMedia, sendVoice:
		if n := grapheme.Count(str("caption")); n > 1024 {
			return s.refuse(http.StatusBadRequest, "%s: caption has %d characters, at most 1024", method, n)
		}
		name := str("fileName")
		ext := strings.ToLower(path.Ext(name))
		if len(ext) < 2 || ext == name || strings.ContainsAny(name, "/\\") {
			return s.refuse(http.StatusBadRequest, "%s: fileName %q has no extension", method, name)
		}
		if method == sendVoice && ext != ".mp3" && ext != ".wav" {
			return s.refuse(http.StatusBadRequest, "%s: fileName %q is not .mp3 or .wav", method, name)
		}
		rec.URLFile = str("urlFile")
		u, err := url.Parse(rec.URLFile)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s.refuse(http.StatusBadRequest, "%s: urlFile %q is not an absolute http(s) URL", method, rec.URLFile)
		}
		rec.FetchedContentType, rec.Reason = s.checkLink(ctx, rec.URLFile, method == sendVoice)
		if rec.Reason == "" && method == sendMedia && ext == ".mp3" {
			rec.Reason = "sendMediaStatus does not take .mp3 files"
		}
	}
	b, _ := json.Marshal(map[string]string{"idMessage": rec.IDMessage})
	return answer{status: http.StatusOK, body: b, rec: rec}
}

// checkLink fetches urlFile like Green API does and returns its
// Content-Type and, if the status would never be delivered, why.
func (s *Server) checkLink(ctx context.Context, link string, voice bool) (contentType, reason string) {
	resp, err := s.get(ctx, link, true)
	if err == nil && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		resp, err = s.get(ctx, link, false)
	}
	if err != nil {
		return "", "urlFile cannot be fetched: " + err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // draining only: the status and type are the check
	contentType = resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return contentType, fmt.Sprintf("urlFile answered HTTP %d", resp.StatusCode)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if d, _, err := mime.ParseMediaType(cd); err == nil && d == "attachment" {
			return contentType, "urlFile is a download link (Content-Disposition: attachment)"
		}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType, fmt.Sprintf("urlFile has no usable Content-Type (%q)", contentType)
	}
	switch {
	case mt == "application/octet-stream":
		return contentType, "urlFile is a download link (application/octet-stream), not a direct link"
	case voice && !slices.Contains([]string{"audio/mpeg", "audio/mp3", "audio/wav", "audio/wave", "audio/x-wav", "audio/vnd.wave"}, mt):
		return contentType, fmt.Sprintf("urlFile is %s, not audio/mpeg or audio/wav", mt)
	case !voice && !strings.HasPrefix(mt, "image/") && !strings.HasPrefix(mt, "video/"):
		return contentType, fmt.Sprintf("urlFile is %s, not an image or video", mt)
	}
	return contentType, ""
}

func (s *Server) get(ctx context.Context, link string, ranged bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, err
	}
	if ranged {
		req.Header.Set("Range", "bytes=0-0")
	}
	return s.fetch.Do(req)
}

func (s *Server) handleDelete(f map[string]any) answer {
	id := f["idMessage"].(string)
	s.mu.Lock()
	for i := range s.posted {
		if s.posted[i].IDMessage == id {
			s.posted[i].Deleted = true
		}
	}
	s.mu.Unlock()
	return answer{status: http.StatusOK}
}

func (s *Server) handleGet(r *http.Request, method string) answer {
	q := r.URL.Query()
	now := time.Now()
	switch method {
	case getOutgoing:
		minutes := 1440
		for k := range q {
			if k != "minutes" {
				return s.refuse(http.StatusBadRequest, "%s: unknown parameter %q", method, k)
			}
		}
		if v := q.Get("minutes"); q.Has("minutes") {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return s.refuse(http.StatusBadRequest, "%s: minutes %q is not a positive integer", method, v)
			}
			minutes = n
		}
		out := []map[string]any{}
		s.mu.Lock()
		progress := maps.Clone(s.progress)
		s.mu.Unlock()
		for _, st := range s.Posted() {
			shown := progress[st.IDMessage]
			if st.Deleted || shown == "" || now.Sub(st.Time) > time.Duration(minutes)*time.Minute {
				continue
			}
			e := map[string]any{
				"type": "outgoing", "idMessage": st.IDMessage, "timestamp": st.Time.Unix(),
				"typeMessage": typeMessage(st), "chatId": "status@broadcast",
				"statusMessage": shown, "sendByApi": true,
			}
			if ps, ok := st.Body["participants"]; ok {
				e["participants"] = ps
			}
			if st.Method == sendText {
				t := map[string]any{"text": st.Body["message"]}
				for _, k := range []string{"backgroundColor", "font"} {
					if v, ok := st.Body[k]; ok {
						t[k] = v
					}
				}
				e["extendedTextMessage"] = t
			} else {
				e["fileName"], e["downloadUrl"] = st.Body["fileName"], st.URLFile
				e["mimeType"], _, _ = strings.Cut(st.FetchedContentType, ";")
				if c, ok := st.Body["caption"]; ok {
					e["caption"] = c
				}
			}
			out = append(out, e)
		}
		b, _ := json.Marshal(out)
		return answer{status: http.StatusOK, body: b}
	default: // getStatusStatistic
		for k := range q {
			if k != "idMessage" {
				return s.refuse(http.StatusBadRequest, "%s: unknown parameter %q", method, k)
			}
		}
		id := q.Get("idMessage")
		if id == "" {
			return s.refuse(http.StatusBadRequest, "%s: idMessage is required", method)
		}
		out := []map[string]any{}
		for _, st := range s.Posted() {
			if st.IDMessage != id {
				continue
			}
			ps, _ := st.Body["participants"].([]any)
			for _, p := range ps {
				out = append(out, map[string]any{"participant": p, "timestamp": st.Time.Unix(), "status": "sent"})
			}
		}
		b, _ := json.Marshal(out)
		return answer{status: http.StatusOK, body: b}
	}
}

func typeMessage(st Status) string {
	switch {
	case st.Method == sendText:
		return "extendedTextMessage"
	case st.Method == sendVoice:
		return "audioMessage"
	case strings.HasPrefix(st.FetchedContentType, "video/"):
		return "videoMessage"
	default:
		return "imageMessage"
	}
}

func defaultBody(status int) []byte {
	switch status {
	case 466:
		return []byte(`{"invokeStatus":{"method":"sendMediaStatus","used":100,"total":100,"status":"QUOTE_ALLOWED_EXCEEDED","description":"Monthly quota of the plan is used up"}}`)
	case http.StatusTooManyRequests:
		return []byte("Too Many Requests")
	}
	return []byte(http.StatusText(status))
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b))
}

func isColor(v string) bool {
	if len(v) != 7 || v[0] != '#' {
		return false
	}
	_, err := hex.DecodeString(v[1:])
	return err == nil
}

func isChatID(p string) bool {
	num, ok := strings.CutSuffix(p, "@c.us")
	if !ok || num == "" || num[0] == '0' || len(num) > 15 {
		return false
	}
	for _, r := range num {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
