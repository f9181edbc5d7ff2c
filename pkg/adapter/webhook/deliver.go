package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aistats/edge/pkg/adapter/backoff"
)

// Config configures a Client; zero values take the defaults.
type Config struct {
	Rule Rule
	// Attempts is how many times a delivery is tried (default 4).
	Attempts int
	// BaseDelay is the first backoff (default 500 ms), doubled after each
	// attempt with full jitter, and never more than MaxDelay (default 8 s).
	BaseDelay, MaxDelay time.Duration
	// AttemptTimeout bounds one attempt (default 5 s).
	AttemptTimeout time.Duration
	// Now and Sleep are the clock; nil means the real one. Tests inject
	// them so that backoff costs no wall time.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Transport replaces the guarded transport; only tests of the guard's
	// callers set it.
	Transport http.RoundTripper
}

// Client delivers signed JSON to webhooks.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client whose connections go only where cfg.Rule allows.
func New(cfg Config) *Client {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = 500 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 8 * time.Second
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = backoff.Sleep
	}
	transport := cfg.Transport
	if transport == nil {
		dialer := &net.Dialer{Timeout: cfg.AttemptTimeout, Control: cfg.Rule.Control}
		transport = &http.Transport{DialContext: dialer.DialContext, Proxy: nil, TLSHandshakeTimeout: cfg.AttemptTimeout,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second, ForceAttemptHTTP2: true}
	}
	return &Client{cfg: cfg, http: &http.Client{
		Transport: transport,
		// A redirect would be a second URL nobody checked: refuse it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Result is the outcome of a delivery.
type Result struct {
	// Status is the last HTTP status received; 0 when no answer came.
	Status   int
	Attempts int
	// Err is nil when the receiver answered 2xx.
	Err error
}

// Deliver POSTs body to url, signed with secret, with headers
// Content-Type: application/json, Webhook-Signature and Webhook-Id (id,
// the same on every retry, so a receiver can drop duplicates). A network
// error, a 5xx and a 429 are retried with backoff (Retry-After honoured up
// to MaxDelay); any other status is final. Each attempt is signed anew, so
// its time is current.
func (c *Client) Deliver(ctx context.Context, url, secret, id string, body []byte) Result {
	if err := c.cfg.Rule.Check(url); err != nil {
		return Result{Err: err}
	}
	var res Result
	delay := c.cfg.BaseDelay
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		status, retryAfter, err := c.once(ctx, url, secret, id, body)
		res.Status, res.Err = status, err
		if err == nil || !retryable(status, err) || attempt == c.cfg.Attempts {
			return res
		}
		wait := time.Duration(rand.Int64N(int64(delay)) + 1) // full jitter
		if retryAfter > wait {
			wait = min(retryAfter, c.cfg.MaxDelay)
		}
		if c.cfg.Sleep(ctx, wait) != nil {
			return res
		}
		delay = min(2*delay, c.cfg.MaxDelay)
	}
}

// errStatus is a non-2xx answer.
type errStatus int

func (e errStatus) Error() string { return "the receiver answered " + strconv.Itoa(int(e)) }

func retryable(status int, err error) bool {
	if errors.Is(err, ErrURL) {
		return false // the address is refused: retrying cannot help
	}
	return status == 0 || status == http.StatusTooManyRequests || status >= 500
}

func (c *Client) once(ctx context.Context, url, secret, id string, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aistats-webhook/1")
	req.Header.Set("Webhook-Id", id)
	req.Header.Set(SignatureHeader, Sign(secret, c.cfg.Now(), body))
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("deliver webhook: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	var buf [512]byte
	_, _ = resp.Body.Read(buf[:]) // a little of the answer, so the connection can be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, errStatus(resp.StatusCode)
}

// unwrapURLError drops net/http's *url.Error wrapper, whose message
// repeats the URL: a URL may carry a token in its path or query, and the
// error reaches the logs and GET /v1/webhook.
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
