package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// maxDocScreenshot bounds docs/console.png, which is committed.
const maxDocScreenshot = 300 << 10

// TestConsole runs saga-console against the platform, with a successful
// and a failed registration and a poison record on DLT, and drives its
// pages in headless Chromium: what they show is read from the DOM, the
// poison record is replayed with its button and checked on Kafka.
// Screenshots of the pages go to $CONSOLE_SCREENSHOTS (else a temporary
// directory); with CONSOLE_SCREENSHOT_DOC=1 the timeline's also becomes
// docs/console.png.
func TestConsole(t *testing.T) {
	chromium := chromiumPath(t)
	p := newPlatform(t)
	p.start()

	// A successful and a failed registration, and a record customer-service
	// can only dead-letter (its value is not JSON; it holds markup the page
	// must show as text).
	ok := p.register(blueprintBody)
	failed := p.register(bodyWithBalance("1"))
	p.waitStatus(ok.ID, "REGISTRATION_SUCCESS", sagaTimeout)
	p.waitStatus(failed.ID, "REGISTRATION_FAILED", sagaTimeout)
	const poisonValue = `not json: <b id="injected">bold</b><img src=x onerror="document.body.dataset.pwned=1">`
	p.produce("outbox.event.payment", "console-poison", poisonValue,
		"id", "console-poison", "eventType", "PaymentAuthorizedEvent", "eventId", "console-poison")
	var poison record
	proctest.Eventually(t, sagaTimeout, "the poison record is dead-lettered", func() error {
		for _, r := range p.records("DLT") {
			if r.Value == poisonValue {
				poison = r
				return nil
			}
		}
		return errors.New("not on DLT yet")
	})

	base := p.startConsole()
	shots := screenshotDir(t)
	b := newBrowser(t, chromium, base, shots)

	t.Run("registrations", func(t *testing.T) {
		b.open(t, "#/registrations")
		got := evalJS[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('#registrations tbody tr')]
			.map(r => [r.dataset.id, r.querySelector('[data-status]').dataset.status]))`)
		want := map[string]string{ok.ID: "REGISTRATION_SUCCESS", failed.ID: "REGISTRATION_FAILED"}
		for id, status := range want {
			if got[id] != status {
				t.Errorf("registrations page shows %s as %q, want %q (rows: %v)", id, got[id], status, got)
			}
		}
		b.screenshot(t, "registrations")
	})

	t.Run("timeline of the successful registration", func(t *testing.T) {
		b.checkTimeline(t, ok.ID, "REGISTRATION_SUCCESS", []string{
			"customer-service request-accepted",
			"customer-service event-written CustomerPendingRegistrationEvent",
			"customer-service event-published CustomerPendingRegistrationEvent",
			"payment-service event-consumed CustomerPendingRegistrationEvent",
			"payment-service payment-decided",
			"payment-service event-written PaymentAuthorizedEvent",
			"payment-service event-published PaymentAuthorizedEvent",
			"customer-service event-consumed PaymentAuthorizedEvent",
			"customer-service registration-ended",
		})
		b.screenshot(t, "timeline")
	})

	t.Run("timeline of the failed registration", func(t *testing.T) {
		b.checkTimeline(t, failed.ID, "REGISTRATION_FAILED", []string{
			"customer-service request-accepted",
			"customer-service event-published CustomerPendingRegistrationEvent",
			"payment-service event-consumed CustomerPendingRegistrationEvent",
			"payment-service event-written PaymentNotAuthorizedEvent",
			"payment-service event-published PaymentNotAuthorizedEvent",
			"customer-service event-consumed PaymentNotAuthorizedEvent",
			"customer-service registration-ended",
		})
		b.screenshot(t, "timeline-failed")
	})

	t.Run("dead letters and replay", func(t *testing.T) {
		b.open(t, "#/dlt")
		row := fmt.Sprintf(`tr[data-dlt="%d:%d"]`, poison.Partition, poison.Offset)
		errText := evalJS[string](t, b, fmt.Sprintf(`document.querySelector(%q).querySelector('[data-col=error]').textContent`, row))
		if !strings.Contains(errText, "invalid") {
			t.Errorf("DLT page shows the error %q, want the decoding error", errText)
		}
		// The value's markup is text on the page, never elements.
		b.do(t, chromedp.Click(chromedp.CSS(row+` button[data-action="details"]`), chromedp.NodeVisible))
		shown := evalJS[string](t, b, fmt.Sprintf(`document.querySelector(%q).nextElementSibling.querySelector('pre').textContent`, row))
		injected := evalJS[bool](t, b, `document.getElementById('injected') !== null || document.querySelector('main img') !== null || document.body.dataset.pwned === '1'`)
		if shown != poisonValue || injected {
			t.Errorf("details show %q (markup became elements: %v), want the value as text", shown, injected)
		}

		b.do(t, chromedp.Click(chromedp.CSS(row+` button[data-action="dry-run"]`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(row+` .replay-result.dry`)))
		b.do(t, chromedp.Click(chromedp.CSS(row+` button[data-action="replay"]`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(row+` .replay-result.done`)))
		to := evalJS[string](t, b, fmt.Sprintf(`document.querySelector(%q).dataset.replayedTo`, row+` .replay-result.done`))
		b.screenshot(t, "dlt")

		var replayed *record
		for _, r := range p.records("outbox.event.payment") {
			if fmt.Sprintf("outbox.event.payment/%d@%d", r.Partition, r.Offset) == to {
				replayed = &r
			}
		}
		switch {
		case replayed == nil:
			t.Fatalf("the page says replayed to %q; no such record on outbox.event.payment", to)
		case replayed.Value != poisonValue || replayed.Key != "console-poison" || replayed.header("eventId") != "console-poison":
			t.Errorf("replayed record = %+v, want the poison record's key, value and headers", *replayed)
		case replayed.header("dlt-replayed-from-offset") == "":
			t.Errorf("replayed record headers = %v, want dlt-replayed-from-offset", replayed.Headers)
		}
	})

	t.Run("topics, groups and records", func(t *testing.T) {
		b.open(t, "#/topics")
		topics := evalJS[[]string](t, b, `[...document.querySelectorAll('#topics a[data-topic]')].map(a => a.dataset.topic)`)
		groups := evalJS[string](t, b, `document.querySelector('#groups').textContent`)
		for _, want := range []string{"outbox.event.customer", "outbox.event.payment", "DLT"} {
			if !slices.Contains(topics, want) {
				t.Errorf("topics page lists %v, want %s", topics, want)
			}
		}
		if !strings.Contains(groups, "customerConsumerGroup1") || !strings.Contains(groups, "paymentConsumerGroup1") {
			t.Errorf("groups table = %q, want both consumer groups", groups)
		}
		b.screenshot(t, "topics")

		b.open(t, "#/records/outbox.event.customer?key="+ok.ID)
		types := evalJS[[]string](t, b, `[...document.querySelectorAll('#records tbody tr')].map(r => r.querySelector('ul.headers').textContent)`)
		if len(types) != 2 || !strings.Contains(types[0], "CustomerRegisteredEvent") || !strings.Contains(types[1], "CustomerPendingRegistrationEvent") {
			t.Errorf("records of key %s, newest first: headers %q, want CustomerRegisteredEvent then CustomerPendingRegistrationEvent", ok.ID, types)
		}
		b.screenshot(t, "records")
	})

	t.Run("relays", func(t *testing.T) {
		b.open(t, "#/relays")
		for _, svc := range []string{"customer-service", "payment-service"} {
			text := evalJS[string](t, b, fmt.Sprintf(`document.querySelector('.card[data-service=%q]').textContent`, svc))
			if !strings.Contains(text, "UP") || !strings.Contains(text, "published") || !strings.Contains(text, "leader") {
				t.Errorf("%s card = %q, want its health and relay", svc, text)
			}
		}
		b.screenshot(t, "relays")
	})

	t.Run("writes only from the console's own page", func(t *testing.T) {
		replay := base + "/api/dlt/replay"
		body := fmt.Sprintf(`{"records":[{"partition":%d,"offset":%d}],"dryRun":true}`, poison.Partition, poison.Offset)
		tests := []struct {
			name     string
			headers  map[string]string
			want     int
			wantCode string
		}{
			{"form content type", map[string]string{"Content-Type": "text/plain", "Origin": base}, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
			{"other origin", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example", "X-Saga-Console": "1"}, http.StatusForbidden, "CROSS_ORIGIN"},
			{"cross-site fetch", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site", "X-Saga-Console": "1"}, http.StatusForbidden, "CROSS_ORIGIN"},
			{"no origin, no console header", map[string]string{"Content-Type": "application/json"}, http.StatusForbidden, "CONSOLE_HEADER_MISSING"},
			{"script with the console header", map[string]string{"Content-Type": "application/json", "X-Saga-Console": "1"}, http.StatusOK, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, answer := consoleRequest(t, "POST", replay, body, tt.headers)
				if status != tt.want || !strings.Contains(answer, tt.wantCode) {
					t.Errorf("status %d %s, want %d %s", status, answer, tt.want, tt.wantCode)
				}
			})
		}
		if status, answer := consoleRequest(t, "GET", base+"/healthz", "", nil); status != http.StatusOK || strings.TrimSpace(answer) != `{"status":"UP"}` {
			t.Errorf("GET /healthz = %d %s", status, answer)
		}
		if status, answer := consoleRequest(t, "POST", base+"/api/customers/"+ok.ID+"/fail", "{}",
			map[string]string{"Content-Type": "application/json", "Origin": base}); status != http.StatusConflict || !strings.Contains(answer, "REGISTRATION_ENDED") {
			t.Errorf("failing an ended registration = %d %s, want 409 REGISTRATION_ENDED", status, answer)
		}
	})

	// Last, as it stops payment-service: a registration nobody answers
	// stays pending until an operator fails it on the page.
	t.Run("fail a pending registration", func(t *testing.T) {
		p.payment.Stop(t)
		stuck := p.register(blueprintBody)
		b.open(t, "#/registrations?status=REGISTRATION_PENDING")
		row := fmt.Sprintf(`#registrations tr[data-id=%q]`, stuck.ID)
		if st := evalJS[string](t, b, fmt.Sprintf(`document.querySelector(%q).querySelector('[data-status]').dataset.status`, row)); st != "REGISTRATION_PENDING" {
			t.Fatalf("the stuck registration shows %s", st)
		}
		b.screenshot(t, "registrations-pending")
		// The first click arms the button, the second fails the registration.
		fail := chromedp.CSS(row + ` button.danger`)
		b.do(t, chromedp.Click(fail, chromedp.NodeVisible), chromedp.Click(fail, chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(row+` .result .badge-failed`)))
		if got := p.getCustomer(stuck.ID); got.Status != "REGISTRATION_FAILED" {
			t.Errorf("after Fail the customer is %s (%s), want REGISTRATION_FAILED", got.Status, got.FailureReason)
		}
	})

	b.checkNoErrors(t)
	t.Logf("screenshots in %s", shots)
	if os.Getenv("CONSOLE_SCREENSHOT_DOC") == "1" {
		b.writeDocScreenshot(t, "timeline")
	}
}

// startConsole starts saga-console against the platform and returns its
// URL.
func (p *platform) startConsole() string {
	p.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(p.t))
	pr := startProc(p.t, "saga-console", []string{
		"CONSOLE_ADDR=" + addr,
		"KAFKA_BROKERS=" + p.kafkaAddr,
		fmt.Sprintf("CUSTOMER_URL=http://127.0.0.1:%d", p.customerPort),
		fmt.Sprintf("PAYMENT_URL=http://127.0.0.1:%d", p.paymentPort),
		"LOG_LEVEL=debug",
	})
	base := "http://" + addr
	p.waitHTTP(pr, base+"/healthz")
	return base
}

func consoleRequest(t *testing.T, method, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// chromiumPath is Debian's Chromium, or the test is skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	skipShort(t)
	for _, p := range []string{"/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("saga-console browser test: no Chromium (/usr/bin/chromium or chromium on PATH); apt-get install chromium")
	return ""
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium tab on the console.
type browser struct {
	ctx   context.Context
	base  string
	shots string
	loads int

	mu     sync.Mutex
	errors []string // exceptions thrown and errors logged by the page
}

// newBrowser starts Chromium with a fresh profile and the flags that keep
// it off the (closed) network.
func newBrowser(t *testing.T, exe, base, shots string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{base: base, shots: shots}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			b.errors = append(b.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
			}
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b.ctx = ctx
	// The first action starts the browser and the tab, which live as long
	// as its context: ctx itself, not one with a deadline.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// do runs actions with a deadline.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v\npage errors: %v", err, b.pageErrors())
	}
}

func evalJS[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// open loads the page at hash and waits until it shows it (the page sets
// main's data-ready to the route it rendered). A fresh load each time, so
// the page asks the console again.
func (b *browser) open(t *testing.T, hash string) {
	t.Helper()
	b.loads++
	b.do(t, chromedp.Navigate(fmt.Sprintf("%s/?load=%d%s", b.base, b.loads, hash)),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`main[data-ready=%q]`, hash))))
	if msg := evalJS[string](t, b, `(document.querySelector('main .alert-error') || {}).textContent || ''`); msg != "" {
		t.Fatalf("%s shows an error: %s", hash, msg)
	}
}

// checkTimeline opens id's timeline and checks its status badge and that
// want (service, kind and event type of steps) appear in that order, and
// that every event written was found on Kafka; it reloads until the last
// events are published.
func (b *browser) checkTimeline(t *testing.T, id, status string, want []string) {
	t.Helper()
	type step struct{ Service, Kind, EventType, Record string }
	var steps []step
	var got []string
	proctest.Eventually(t, 10*time.Second, "every written event is on Kafka", func() error {
		b.open(t, "#/timeline/"+id)
		steps = evalJS[[]step](t, b, `[...document.querySelectorAll('#timeline tbody tr')].map(r => ({
			Service: r.dataset.service, Kind: r.dataset.kind, EventType: r.dataset.eventType, Record: r.dataset.record }))`)
		written, published := 0, 0
		for _, s := range steps {
			switch {
			case s.Kind == "event-written":
				written++
			case s.Kind == "event-published" && s.Record != "":
				published++
			}
		}
		if written == 0 || published != written {
			return fmt.Errorf("%d events written, %d found on Kafka", written, published)
		}
		return nil
	})
	got = got[:0]
	for _, s := range steps {
		got = append(got, strings.TrimSpace(s.Service+" "+s.Kind+" "+s.EventType))
	}
	if !inOrder(got, want) {
		t.Errorf("timeline of %s:\n  %s\nwant in this order:\n  %s", id, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if st := evalJS[string](t, b, `document.querySelector('#tl-status [data-status]').dataset.status`); st != status {
		t.Errorf("timeline status = %s, want %s", st, status)
	}
}

// inOrder reports whether want is a subsequence of got.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// screenshot saves the whole page as <name>.png.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeDocScreenshot copies the screenshot name to docs/console.png.
func (b *browser) writeDocScreenshot(t *testing.T, name string) {
	t.Helper()
	png, err := os.ReadFile(filepath.Join(b.shots, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	if len(png) > maxDocScreenshot {
		t.Fatalf("%s.png is %d bytes, over the %d allowed for docs/console.png", name, len(png), maxDocScreenshot)
	}
	root, err := proctest.Root()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, "docs", "console.png")
	if err := os.WriteFile(dst, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", dst, len(png))
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}

// checkNoErrors fails t if the page threw or logged an error. A refused
// write answered with an error body is logged by no one: the page shows it.
func (b *browser) checkNoErrors(t *testing.T) {
	t.Helper()
	if errs := b.pageErrors(); len(errs) > 0 {
		out, _ := json.MarshalIndent(errs, "", "  ")
		t.Errorf("the page reported errors:\n%s", out)
	}
}
