package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ErrNoChromium means no Chromium is installed; `make chromium` installs it.
var ErrNoChromium = errors.New("no chromium on PATH (make chromium installs Debian's)")

// ExecPath finds Chromium: $CHROMIUM, or chromium, chromium-browser or
// google-chrome on PATH.
func ExecPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	// Ctx runs chromedp actions in the tab.
	Ctx    context.Context
	cancel func()

	mu       sync.Mutex
	problems []string
}

// Start launches Chromium with a 1280×900 window. Close ends it.
func Start(ctx context.Context) (*Browser, error) {
	path, err := ExecPath()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-extensions", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	b := &Browser{Ctx: tabCtx, cancel: func() { cancelTab(); cancelAlloc() }}
	err = chromedp.Listen(tabCtx, b.listen)
	if err == nil {
		_, err = chromedp.Call(tabCtx, log.Enable, cdp.Empty{})
	}
	if err == nil {
		_, err = chromedp.Call(tabCtx, network.Enable, network.EnableParams{})
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start chromium %s: %w", path, err)
	}
	return b, nil
}

// listen records every console error, exception, CSP report and failed load.
func (b *Browser) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range ev.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			problem = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		problem = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			problem += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			problem = fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			problem = fmt.Sprintf("load failed: %s %s", ev.ErrorText, ev.BlockedReason)
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.problems = append(b.problems, problem)
		b.mu.Unlock()
	}
}

// Problems are the console errors, exceptions, CSP violations and failed
// loads seen so far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Close ends the browser.
func (b *Browser) Close() { b.cancel() }
