package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/web"
)

// The web page, in a real browser (Debian's chromium, headless) against a
// real mediaprep serve with API keys and the strict Green API stand-in.
// Screenshots of each step go to $MEDIAPREP_SCREENSHOTS/TestName, or
// $TMPDIR/mediaprep-web-screenshots/TestName, and are kept (the test logs
// where); a failed step adds failed-STEP.png.

// browser is a headless Chromium tab.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string

	mu      sync.Mutex
	console []string // errors and warnings the page logged
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("MEDIAPREP_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "mediaprep-web-screenshots")
	}
	dir = filepath.Join(dir, t.Name())
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

func newBrowser(t *testing.T, chrome string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: screenshotDir(t)}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chrome, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == "error" || m.Type == "warning" || m.IsException() {
				b.mu.Lock()
				b.console = append(b.console, string(m.Type)+": "+m.Text)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs steps with a deadline; on failure it takes a screenshot first.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v\n%s", what, err, b.consoleText())
	}
}

// eval evaluates expr in the page and returns its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// wait polls expr until it is truthy.
func (b *browser) wait(what, expr string, limit time.Duration) {
	b.t.Helper()
	b.do(what, chromedp.Action[chromedp.Void](func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(200*time.Millisecond))(ctx, t)
		return chromedp.Void{}, err
	}))
}

func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Error(err)
	}
}

func (b *browser) consoleText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.console, "\n")
}

// setInput sets a field's value as a person would, firing input and change.
func setInput(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))
}

// throttleUploads limits the upload speed of requests to url (bytes per
// second; -1: no limit).
func throttleUploads(url string, perSecond float64) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{URLPattern: url, UploadThroughput: perSecond, DownloadThroughput: -1}},
		})
		return chromedp.Void{}, err
	}
}

func absSample(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestWebPage: sign in (a wrong key first), send a picture, a video and
// audio with captions and a PDF through the file input, watch them reach
// posted and their prepared files load, send a text status after its
// preview (white refused), then the Russian page and a phone screen.
func TestWebPage(t *testing.T) {
	chrome := testutil.NeedChromium(t)
	c := newCluster(t, clusterOpts{green: true})
	_, base := c.serve("serve", []string{"MEDIAPREP_API_KEYS=" + apiKey})
	b := newBrowser(t, chrome)

	// Sign in: a wrong key says so.
	b.do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	b.shot("01-sign-in")
	b.do("wrong key", chromedp.SendKeys(chromedp.CSS("#key"), "not-the-key"), chromedp.Click(chromedp.CSS("#signin-form button")))
	b.wait("the wrong key message", `document.querySelector('#signin-error').textContent.includes('not valid')`, 30*time.Second)
	b.shot("02-wrong-key")
	if !eval[bool](b, `document.querySelector('#app').hidden`) {
		t.Error("the page opened with a wrong key")
	}
	b.do("sign in", setInput("#key", ""), chromedp.SendKeys(chromedp.CSS("#key"), apiKey),
		chromedp.Click(chromedp.CSS("#signin-form button")), chromedp.WaitVisible(chromedp.CSS("#app")))
	if got := eval[string](b, `sessionStorage.getItem('mediaprep.key')`); got != apiKey {
		t.Errorf("key kept as %q", got)
	}
	b.shot("03-signed-in")

	// Files: a picture, a video, audio and a PDF, through the file input.
	files := []string{sample("sample.jpg"), sample("sample.mp4"), sample("sample-id3.mp3"), badFile("doc.pdf")}
	for i := range files {
		files[i] = absSample(t, files[i])
	}
	b.do("choose files", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), files))
	b.wait("four file cards", `document.querySelectorAll('#files li.file').length === 4`, 30*time.Second)
	card := func(i int) string { return fmt.Sprintf("#files li.file:nth-child(%d) ", i) }
	b.do("captions",
		chromedp.SendKeys(chromedp.CSS(card(1)+"textarea.caption"), "Sunset over the bay"),
		setInput(card(1)+"select.crop", "smart"),
		chromedp.SendKeys(chromedp.CSS(card(1)+"input.participants"), "+7 900 123-45-67"),
		chromedp.SendKeys(chromedp.CSS(card(2)+"textarea.caption"), "Привет из студии 🎬"),
		setInput(card(2)+"select.fit", "pad"),
		setInput(card(3)+"input.color", "#1f4e9c"),
	)
	if got := eval[string](b, `document.querySelector('`+card(2)+`.count').textContent`); !strings.HasPrefix(got, "18 / 1024") {
		t.Errorf("caption count %q, want 18 / 1024 (the emoji is one character)", got)
	}
	if eval[bool](b, `!document.querySelector('`+card(3)+`.opt-caption').hidden || document.querySelector('`+card(3)+`.opt-color').hidden`) {
		t.Error("the audio card shows a caption or no background colour")
	}
	b.wait("thumbnails", `document.querySelector('`+card(1)+`.thumb img').naturalWidth > 0`, 30*time.Second)
	b.shot("04-files-chosen")

	// Uploads slowed to 64 KB/s, so that their progress shows; every
	// progress text the cards show is noted.
	b.do("slow uploads", throttleUploads(base+"/v1/statuses", 64<<10), chromedp.Evaluate[chromedp.Void](`(() => {
		window.seenProgress = new Set();
		new MutationObserver(() => {
			for (const p of document.querySelectorAll('#files .file-state')) window.seenProgress.add(p.textContent);
		}).observe(document.querySelector('#files'), {subtree: true, childList: true, characterData: true});
	})()`))
	b.do("send all", chromedp.Click(chromedp.CSS("#send-all")))
	b.wait("an upload under way", `[...document.querySelectorAll('#files progress')].some(p => !p.hidden && p.value > 0 && p.value < 100)`, time.Minute)
	b.shot("05-uploading")
	b.wait("the PDF refused in words", `(document.querySelector('#files li.file .error') || {}).textContent?.includes('PDF files are not accepted')`, 60*time.Second)
	b.wait("three jobs posted", `document.querySelectorAll('#jobs li.job[data-state=posted]').length === 3`, 3*time.Minute)
	if !eval[bool](b, `[...window.seenProgress].some(s => /^Uploading… [1-9][0-9]?%$/.test(s))`) {
		t.Errorf("no upload progress between 0 and 100%% was shown: %v", eval[[]string](b, `[...window.seenProgress]`))
	}
	b.do("uploads at full speed", throttleUploads(base+"/v1/statuses", -1))
	if got := eval[string](b, `document.querySelector('#files li.file .error').textContent`); !strings.Contains(got, "not a picture, video or audio") || !strings.Contains(got, "unsupported_type") {
		t.Errorf("PDF error %q", got)
	}
	b.wait("prepared files loaded", `(() => {
		const imgs = [...document.querySelectorAll('#jobs .result img')];
		const media = [...document.querySelectorAll('#jobs video, #jobs audio')];
		return imgs.length === 1 && imgs.every(i => i.complete && i.naturalWidth > 0) &&
			media.length === 2 && media.every(m => m.readyState >= 1);
	})()`, 60*time.Second)
	if w := eval[[]int](b, `(() => { const i = document.querySelector('#jobs .result img'); return [i.naturalWidth, i.naturalHeight]; })()`); len(w) != 2 || w[0]*16 != w[1]*9 {
		t.Errorf("prepared picture is %v, want 9:16", w)
	}
	b.shot("06-posted")

	// A text status: white is refused with the reason; the preview shows
	// white text on the colour, in the font.
	b.do("text", chromedp.SendKeys(chromedp.CSS("#text-body"), "Open until 9 tonight"), setInput("#text-color", "#ffffff"))
	b.wait("white refused", `document.querySelector('#text-color-error').textContent.includes('White') && document.querySelector('#text-send').disabled`, 10*time.Second)
	b.shot("07-text-white-refused")
	b.do("text colour and font", setInput("#text-color", "#1f4e9c"), setInput("#text-font", "SERIF"))
	prev := eval[map[string]string](b, `(() => { const p = document.querySelector('#text-preview'), s = getComputedStyle(p);
		return {bg: s.backgroundColor, color: s.color, font: s.fontFamily, text: p.textContent, err: document.querySelector('#text-color-error').textContent}; })()`)
	if prev["bg"] != "rgb(31, 78, 156)" || prev["color"] != "rgb(255, 255, 255)" || !strings.Contains(prev["font"], "serif") ||
		prev["text"] != "Open until 9 tonight" || prev["err"] != "" {
		t.Errorf("text preview %v", prev)
	}
	b.shot("08-text-preview")
	b.do("send text", chromedp.Click(chromedp.CSS("#text-send")))
	b.wait("four jobs posted", `document.querySelectorAll('#jobs li.job[data-state=posted]').length === 4`, time.Minute)
	b.shot("09-all-posted")

	// A reload keeps the key (this tab) and the list, states from the stream.
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#app")))
	b.wait("jobs back after a reload", `document.querySelectorAll('#jobs li.job[data-state=posted]').length === 4`, time.Minute)

	// Russian.
	b.do("Russian", setInput("#lang", "ru"))
	ru := eval[[]string](b, `[document.documentElement.lang, document.querySelector('#new-h').textContent, document.querySelector('#jobs li.job .state').textContent]`)
	if ru[0] != "ru" || ru[1] != "Новые статусы" || ru[2] != "Опубликован" {
		t.Errorf("Russian page: %q", ru)
	}
	b.shot("10-russian")

	// A phone: nothing wider than the screen.
	b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.do("English", setInput("#lang", "en"))
	if w := eval[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("on a phone the page is %d px wide, the screen %d", w[0], w[1])
	}
	b.shot("11-phone")

	// What reached Green API.
	if n := c.green.Count("sendMediaStatus"); n != 2 {
		t.Errorf("%d sendMediaStatus, want 2", n)
	}
	if n := c.green.Count("sendVoiceStatus"); n != 1 {
		t.Errorf("%d sendVoiceStatus, want 1", n)
	}
	if n := c.green.Count("sendTextStatus"); n != 1 {
		t.Errorf("%d sendTextStatus, want 1", n)
	}
	got := map[string]string{}
	for _, s := range c.green.Posted() {
		got[s.Method] += fmt.Sprint(s.Body["caption"], s.Body["backgroundColor"], s.Body["message"], s.Body["participants"], ";")
	}
	t.Logf("posted: %v", got)
	for _, want := range []string{"Sunset over the bay", "[79001234567@c.us]", "Привет из студии 🎬", "#1F4E9C", "Open until 9 tonight"} {
		if !strings.Contains(fmt.Sprint(got), want) {
			t.Errorf("Green API got %v, lacking %q", got, want)
		}
	}
	// The answers the steps asked for (no key, a wrong key, the PDF) are
	// all Chromium may log: no CSP violation, no exception.
	for line := range strings.Lines(b.consoleText()) {
		if !strings.Contains(line, "status of 401") && !strings.Contains(line, "status of 415") {
			t.Errorf("the page logged %s", line)
		}
	}
}

// TestWebPageNoKeys: a server without keys (loopback, dry run) asks for
// none; an upload shows that nothing was sent to WhatsApp.
func TestWebPageNoKeys(t *testing.T) {
	chrome := testutil.NeedChromium(t)
	c := newCluster(t, clusterOpts{})
	_, base := c.serve("serve", nil)
	b := newBrowser(t, chrome)
	b.do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#app")))
	if eval[bool](b, `!document.querySelector('#signin').hidden || !document.querySelector('#signout').hidden`) {
		t.Error("the page asks for a key, or offers to sign out, on a server without keys")
	}
	b.do("choose a picture", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), []string{absSample(t, sample("alpha.png"))}),
		chromedp.Click(chromedp.CSS("#send-all")))
	b.wait("posted in a dry run", `(document.querySelector('#jobs li.job[data-state=posted] .delivery') || {}).textContent?.includes('Dry run')`, 2*time.Minute)
	b.shot("01-no-keys-dry-run")
}

// TestWebPageOfferedFields: against a stand-in API that offers accounts,
// scheduling, a job list and cancel (GET /v1/info), the page shows the
// account and publish-time fields and sends them, lists the server's jobs
// and cancels one, whatever shape of accounts it gives (TestWebPageAccounts
// does this against the real server).
func TestWebPageOfferedFields(t *testing.T) {
	chrome := testutil.NeedChromium(t)
	var mu sync.Mutex
	var posted url.Values
	var deleted []string
	mux := http.NewServeMux()
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /assets/", page)
	writeJSON := func(w http.ResponseWriter, status int, v string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, v)
	}
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"auth":false,"events":false,"jobList":true,"scheduling":true,"cancel":true,
			"accounts":["shop-main",{"id":"shop-2","name":"Second shop"}],"maxUploadBytes":1000000,"maxCaption":1024,"maxText":500,
			"fonts":["SERIF"],"crops":["center"],"videoFits":["keep"]}`)
	})
	mux.HandleFunc("GET /v1/statuses", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"jobs":[{"id":"sched1","state":"scheduled","name":"later.jpg","account":"shop-2","publishAt":"2030-01-02T09:00:00Z","options":{},"created":"2026-11-30T10:00:00Z"}]}`)
	})
	mux.HandleFunc("POST /v1/statuses", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			writeJSON(w, 400, `{"error":{"code":"invalid_request","message":"bad form"}}`)
			return
		}
		mu.Lock()
		posted = r.MultipartForm.Value
		mu.Unlock()
		writeJSON(w, 202, `{"id":"new1","state":"scheduled"}`)
	})
	mux.HandleFunc("GET /v1/statuses/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		state := "scheduled"
		if slices.Contains(deleted, r.PathValue("id")) {
			state = "canceled"
		}
		mu.Unlock()
		writeJSON(w, 200, `{"id":"`+r.PathValue("id")+`","state":"`+state+`","name":"later.jpg","options":{}}`)
	})
	mux.HandleFunc("DELETE /v1/statuses/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deleted = append(deleted, r.PathValue("id"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := newBrowser(t, chrome)
	b.do("open the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#app")))
	b.wait("the server's job list", `(document.querySelector('#jobs li.job[data-id=sched1] .state') || {}).textContent === 'Scheduled'`, 30*time.Second)
	if got := eval[string](b, `document.querySelector('#jobs li.job .meta').textContent`); !strings.Contains(got, "account shop-2") {
		t.Errorf("job meta %q lacks its account", got)
	}
	b.do("choose a picture", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), []string{absSample(t, sample("sample.jpg"))}))
	b.wait("the account and time fields", `!document.querySelector('#files .opt-account').hidden && !document.querySelector('#files .opt-when').hidden && !document.querySelector('#text-form .opt-when').hidden`, 30*time.Second)
	if got := eval[[]string](b, `[...document.querySelectorAll('#files select.account option')].map(o => o.value + '=' + o.textContent)`); strings.Join(got, ",") != "shop-main=shop-main,shop-2=Second shop" {
		t.Errorf("account choices %q", got)
	}
	b.do("fill", setInput("#files select.account", "shop-2"), setInput("#files input.when", "2030-01-02T10:30"))
	b.shot("01-offered-fields")
	b.do("send", chromedp.Click(chromedp.CSS("#send-all")))
	b.wait("the new job", `!!document.querySelector('#jobs li.job[data-id=new1]')`, 30*time.Second)
	mu.Lock()
	if posted.Get("account") != "shop-2" || !strings.HasPrefix(posted.Get("publishAt"), "2030-01-02T") || !strings.HasSuffix(posted.Get("publishAt"), "Z") {
		t.Errorf("posted fields %v", posted)
	}
	mu.Unlock()
	b.do("cancel", chromedp.Click(chromedp.CSS("#jobs li.job[data-id=sched1] button.cancel")))
	b.wait("canceled", `document.querySelector('#jobs li.job[data-id=sched1]').dataset.state === 'canceled'`, 30*time.Second)
	mu.Lock()
	if len(deleted) != 1 || deleted[0] != "sched1" {
		t.Errorf("DELETE calls %v", deleted)
	}
	mu.Unlock()
	b.shot("02-canceled")
}

// TestWebPageResumesEvents: when the event stream drops, the page
// reconnects with Last-Event-ID and shows what came after.
func TestWebPageResumesEvents(t *testing.T) {
	chrome := testutil.NeedChromium(t)
	var mu sync.Mutex
	var lastIDs []string // Last-Event-ID of each stream
	var stop chan struct{}
	mux := http.NewServeMux()
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /assets/", page)
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"auth":false,"events":true,"accounts":[],"maxUploadBytes":1000000,"maxCaption":1024,"maxText":500,"fonts":["SERIF"],"crops":["center"],"videoFits":["keep"]}`)
	})
	mux.HandleFunc("POST /v1/statuses", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"id":"j1","state":"queued"}`)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastIDs)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		job := `{"id":"j1","state":"preparing","options":{"text":"hi","backgroundColor":"#123456"}}`
		if n > 1 {
			job = `{"id":"j1","state":"posted","options":{"text":"hi","backgroundColor":"#123456"},"postedAt":"2026-11-30T10:00:00Z"}`
		}
		fmt.Fprintf(w, "event: job\nid: %d\ndata: %s\n\n", 5+2*n, job)
		w.(http.Flusher).Flush()
		if n == 1 {
			return // the stream drops
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	stop = make(chan struct{})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the browser and the open stream are gone
	t.Cleanup(func() { close(stop) })

	b := newBrowser(t, chrome)
	b.do("open the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#app")))
	b.do("send a text", chromedp.SendKeys(chromedp.CSS("#text-body"), "hi"), chromedp.Click(chromedp.CSS("#text-send")))
	b.wait("posted after the stream came back", `(document.querySelector('#jobs li.job[data-id=j1]') || {dataset: {}}).dataset.state === 'posted'`, time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if len(lastIDs) < 2 || lastIDs[0] != "" || lastIDs[1] != "7" {
		t.Errorf("Last-Event-ID of the streams: %q, want \"\" then 7", lastIDs)
	}
}
