package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
)

// inTimeZone makes the page's local time that of zone (an IANA name).
func inTimeZone(zone string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return chromedp.Void{}, err
	}
}

// setWhenAhead sets the publish-time field under root to the local time
// ahead from now (whole seconds), as a person picking it would, and keeps
// the instant in window.wantAt (ms).
func setWhenAhead(root string, ahead time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const d = new Date(Math.floor((Date.now() + %d) / 1000) * 1000), p = n => String(n).padStart(2, '0');
		const el = document.querySelector(%q);
		el.value = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
		window.wantAt = d.getTime();
	})()`, ahead.Milliseconds(), root+" input.when"))
}

// TestWebPageAccounts: against a real serve with an accounts file of two
// accounts (shop, news) on their own stand-ins, and a browser in Moscow
// time while the server runs in UTC: a picture for news published a few
// seconds ahead shows Scheduled with its time, then Posted, on news's
// instance only and not before its time; one scheduled far ahead for shop
// is canceled from the page and never posted; a text status from the text
// form goes to shop; the posted picture is deleted
// from WhatsApp after a confirm step; after a reload (the browser's own
// list wiped) the list comes from the server with states and accounts.
func TestWebPageAccounts(t *testing.T) {
	chrome := testutil.NeedChromium(t)
	c := newCluster(t, clusterOpts{green: true})
	shop := greenapitest.NewServer(t, shopInstance, shopToken)
	news := greenapitest.NewServer(t, newsInstance, newsToken)
	_, base := c.serve("serve", []string{config.AccountsFileEnv + "=" + accountsFile(t, shop, news), "SHOP_TOKEN=" + shopToken,
		"MEDIAPREP_DELIVERY_WINDOW=0"})
	b := newBrowser(t, chrome)
	moscow := time.FixedZone("MSK", 3*3600) // Europe/Moscow has been UTC+3 all year since 2014
	b.do("open the page in Moscow time", inTimeZone("Europe/Moscow"), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#app")))
	if off := eval[int](b, `new Date().getTimezoneOffset()`); off != -180 {
		t.Fatalf("the page's time zone offset is %d min, want -180", off)
	}
	// Every state and delivery line a job card shows is noted.
	b.do("watch the cards", chromedp.Evaluate[chromedp.Void](`(() => {
		window.seen = new Set();
		new MutationObserver(() => {
			for (const li of document.querySelectorAll('#jobs li.job')) window.seen.add(li.dataset.id + '|' + li.dataset.state + '|' + li.querySelector('.delivery').textContent);
		}).observe(document.querySelector('#jobs'), {subtree: true, childList: true, characterData: true, attributes: true});
	})()`))

	// A picture for news, a few seconds ahead.
	pic := []string{absSample(t, sample("sample.jpg"))}
	b.do("choose a picture", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), pic))
	b.wait("the account and time fields", `!document.querySelector('#files .opt-account').hidden && !document.querySelector('#files .opt-when').hidden && !document.querySelector('#text-form .opt-when').hidden`, 30*time.Second)
	if got := eval[[]string](b, `[...document.querySelectorAll('#files select.account option')].map(o => o.value)`); strings.Join(got, ",") != "default,shop,news" {
		t.Errorf("account choices %q, want default,shop,news", got)
	}
	b.do("account and time", setInput("#files select.account", "news"), setWhenAhead("#files", 12*time.Second),
		chromedp.SendKeys(chromedp.CSS("#files textarea.caption"), "Soon on news"))
	wantAt := time.UnixMilli(int64(eval[float64](b, `window.wantAt`)))
	b.shot("01-account-and-time")
	b.do("send", chromedp.Click(chromedp.CSS("#send-all")))
	b.wait("the job card", `document.querySelectorAll('#jobs li.job').length === 1`, time.Minute)
	first := eval[string](b, `document.querySelector('#jobs li.job').dataset.id`)
	sel := func(id string) string { return fmt.Sprintf("#jobs li.job[data-id=%q]", id) }
	b.shot("02-scheduled")
	b.wait("posted", `document.querySelector('`+sel(first)+`').dataset.state === 'posted'`, 2*time.Minute)
	b.shot("03-posted")
	shownAt := wantAt.In(moscow).Format("15:04")
	if seen := eval[[]string](b, `[...window.seen]`); !strings.Contains(strings.Join(seen, "\n"), first+"|scheduled|To be posted ") ||
		!strings.Contains(strings.Join(seen, "\n"), shownAt) {
		t.Errorf("the card never showed Scheduled with its time (%s Moscow): %q", shownAt, seen)
	}
	job := getJobRecord(t, base, first)
	if job.Account != "news" || !job.PublishAt.Equal(wantAt) || job.PostedAt.Before(job.PublishAt) {
		t.Errorf("job %s: account %q, publishAt %v (want %v), postedAt %v", first, job.Account, job.PublishAt, wantAt, job.PostedAt)
	}
	if n, m := news.Count("sendMediaStatus"), shop.Count("sendMediaStatus")+c.green.Count("sendMediaStatus"); n != 1 || m != 0 {
		t.Errorf("sendMediaStatus: news %d, shop and default %d; want 1 and 0", n, m)
	}
	if p := news.Posted(); len(p) != 1 || p[0].Body["caption"] != "Soon on news" {
		t.Errorf("news got %v", p)
	}

	// Another for shop, a day ahead, canceled from the page.
	b.do("choose another picture", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), pic))
	b.wait("its card", `document.querySelectorAll('#files li.file').length === 1`, 30*time.Second)
	b.do("shop, tomorrow", setInput("#files select.account", "shop"), setWhenAhead("#files", 24*time.Hour), chromedp.Click(chromedp.CSS("#send-all")))
	b.wait("the second job", `document.querySelectorAll('#jobs li.job').length === 2`, time.Minute)
	second := eval[string](b, `document.querySelector('#jobs li.job').dataset.id`)
	b.wait("scheduled with cancel offered", `(() => { const li = document.querySelector('`+sel(second)+`');
		return li.dataset.state === 'scheduled' && !li.querySelector('button.cancel').hidden && li.querySelector('button.delete').hidden; })()`, time.Minute)
	b.shot("04-scheduled-tomorrow")
	b.do("cancel", chromedp.Click(chromedp.CSS(sel(second)+" button.cancel")))
	b.wait("canceled", `document.querySelector('`+sel(second)+`').dataset.state === 'canceled' && document.querySelector('`+sel(second)+` .state').textContent === 'Canceled'`, time.Minute)
	b.shot("05-canceled")
	if j := getJobRecord(t, base, second); j.State != "canceled" || j.Account != "shop" {
		t.Errorf("job %s: %+v", second, j)
	}
	if n := shop.Count("sendMediaStatus"); n != 0 {
		t.Errorf("shop got %d sendMediaStatus after the cancel", n)
	}

	// A text status for shop, from the text form (a JSON body).
	b.do("a text for shop", setInput("#text-form select.account", "shop"), chromedp.SendKeys(chromedp.CSS("#text-body"), "Shop opens at 9"),
		chromedp.Click(chromedp.CSS("#text-send")))
	b.wait("the text job", `document.querySelectorAll('#jobs li.job').length === 3`, time.Minute)
	third := eval[string](b, `document.querySelector('#jobs li.job').dataset.id`)
	b.wait("the text posted", `document.querySelector('`+sel(third)+`').dataset.state === 'posted'`, time.Minute)
	if p := shop.Posted(); len(p) != 1 || p[0].Method != "sendTextStatus" || p[0].Body["message"] != "Shop opens at 9" {
		t.Errorf("shop got %v", p)
	}

	// Delete the posted picture: a confirm step first.
	b.do("delete", chromedp.Click(chromedp.CSS(sel(first)+" button.delete")))
	b.wait("the confirm step", `!document.querySelector('`+sel(first)+` .confirm-delete').hidden`, 10*time.Second)
	if n := news.Count("deleteStatus"); n != 0 {
		t.Errorf("deleteStatus before the confirm: %d", n)
	}
	b.shot("06-delete-confirm")
	b.do("not yet", chromedp.Click(chromedp.CSS(sel(first)+" button.delete-no")))
	if eval[bool](b, `document.querySelector('`+sel(first)+` .confirm-delete').hidden === false || document.querySelector('`+sel(first)+` button.delete').hidden`) {
		t.Error("Keep it did not take the confirm step back")
	}
	b.do("delete for real", chromedp.Click(chromedp.CSS(sel(first)+" button.delete")), chromedp.Click(chromedp.CSS(sel(first)+" button.delete-yes")))
	b.wait("deleted", `document.querySelector('`+sel(first)+`').dataset.state === 'deleted' && document.querySelector('`+sel(first)+` .state').textContent === 'Deleted'`, time.Minute)
	b.shot("07-deleted")
	if n, m := news.Count("deleteStatus"), shop.Count("deleteStatus")+c.green.Count("deleteStatus"); n != 1 || m != 0 {
		t.Errorf("deleteStatus: news %d, shop and default %d; want 1 and 0", n, m)
	}

	// A reload, the browser's own list wiped: the server's list.
	b.do("reload", chromedp.Evaluate[chromedp.Void](`localStorage.removeItem('mediaprep.jobs')`), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#app")))
	b.wait("the server's list", `document.querySelectorAll('#jobs li.job').length === 3 && document.querySelector('`+sel(first)+`').dataset.state === 'deleted' && document.querySelector('`+sel(second)+`').dataset.state === 'canceled'`, time.Minute)
	meta := eval[[]string](b, `[...document.querySelectorAll('#jobs li.job')].map(li => li.dataset.id + ' ' + li.querySelector('.meta').textContent + ' ' + li.querySelector('.delivery').textContent)`)
	want := []string{second + " ", "account shop", "Canceled ", first + " ", "account news", "Deleted from WhatsApp "}
	if all := strings.Join(meta, "\n"); !strings.HasPrefix(all, third) || !strings.Contains(all, "\n"+second) {
		t.Errorf("the list is not newest first: %q", meta)
	} else {
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("the list after a reload lacks %q: %q", w, meta)
			}
		}
	}
	if eval[bool](b, `[...document.querySelectorAll('#jobs li.job:not([data-state=posted]) button.cancel, #jobs li.job:not([data-state=posted]) button.delete')].some(x => !x.hidden)`) {
		t.Error("a canceled or deleted job still offers cancel or delete")
	}
	if eval[bool](b, `document.querySelector('`+sel(third)+` button.delete').hidden`) {
		t.Error("the posted text status offers no delete after a reload")
	}
	b.shot("08-reloaded")
	for _, s := range []*greenapitest.Server{news, shop, c.green} {
		for _, msg := range s.Errors() {
			t.Errorf("a stand-in refused: %s", msg)
		}
	}
	if s := b.consoleText(); s != "" {
		t.Errorf("the page logged:\n%s", s)
	}
}

// jobRecord is what TestWebPageAccounts reads of GET /v1/statuses/{id}.
type jobRecord struct {
	State     string    `json:"state"`
	Account   string    `json:"account"`
	PublishAt time.Time `json:"publishAt"`
	PostedAt  time.Time `json:"postedAt"`
}

func getJobRecord(t *testing.T, base, id string) jobRecord {
	t.Helper()
	code, body, _ := request(t, "GET", base+"/v1/statuses/"+id, "", "", nil)
	var j jobRecord
	if err := json.Unmarshal(body, &j); err != nil || code != 200 {
		t.Fatalf("GET job %s: %d %s", id, code, body)
	}
	return j
}
