package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/aistats/edge/pkg/adapter/backoff"
)

// Config configures a Client.
type Config struct {
	HTTP *http.Client
	// MaxAttempts per call, the first included; default 3.
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff; defaults
	// 200 ms and 2 s.
	BaseBackoff, MaxBackoff time.Duration
	// Jitter returns a number in [0, 1); nil means math/rand.
	Jitter func() float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client calls providers with retries.
type Client struct {
	http        *http.Client
	maxAttempts int
	base, max   time.Duration
	jitter      func() float64
	now         func() time.Time
}

// New returns a Client.
func New(cfg Config) *Client {
	c := &Client{http: cfg.HTTP, maxAttempts: cfg.MaxAttempts, base: cfg.BaseBackoff, max: cfg.MaxBackoff, jitter: cfg.Jitter, now: cfg.Now}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = 3
	}
	if c.base <= 0 {
		c.base = 200 * time.Millisecond
	}
	if c.max <= 0 {
		c.max = 2 * time.Second
	}
	if c.jitter == nil {
		c.jitter = rand.Float64
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Request is one call to a provider.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Result is the outcome of a call after retries.
type Result struct {
	// Response is the final answer: a success, a non-retryable 4xx, or the
	// last retryable failure when attempts ran out. Nil when no attempt got
	// an answer.
	Response *http.Response
	Attempts int
	// Err is the last transport error when no answer came.
	Err error
	// TimedOut is set when the last failure was a timeout.
	TimedOut bool
}

// Retryable reports whether status is worth another attempt.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// Do sends req, retrying as the package describes, and returns the final
// result. The caller must close Result.Response.Body.
func (c *Client) Do(ctx context.Context, req Request) Result {
	var res Result
	for attempt := 0; attempt < c.maxAttempts; attempt++ {
		if attempt > 0 {
			wait := c.backoff(attempt, res.Response)
			if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
				break // the deadline leaves no time for another attempt: keep the last answer
			}
			if res.Response != nil {
				drain(res.Response)
				res.Response = nil
			}
			if backoff.Sleep(ctx, wait) != nil {
				res.Err = ctx.Err()
				break
			}
		}
		res.Attempts++
		httpReq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
		if err != nil {
			res.Err = fmt.Errorf("build upstream request: %w", err)
			return res
		}
		httpReq.Header = req.Header.Clone()
		resp, err := c.http.Do(httpReq)
		if err != nil {
			res.Err = err
			res.TimedOut = isTimeout(err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		res.Response, res.Err, res.TimedOut = resp, nil, false
		if !Retryable(resp.StatusCode) {
			return res
		}
	}
	return res
}

// backoff is full jitter over an exponential cap, raised to the upstream's
// Retry-After when it asks for longer.
func (c *Client) backoff(attempt int, last *http.Response) time.Duration {
	ceiling := c.base << (attempt - 1)
	if ceiling > c.max || ceiling <= 0 {
		ceiling = c.max
	}
	wait := time.Duration(c.jitter() * float64(ceiling))
	if last != nil {
		if ra, ok := RetryAfter(last.Header.Get("Retry-After"), c.now()); ok && ra > wait {
			wait = ra
		}
	}
	return wait
}

// RetryAfter parses a Retry-After header: seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	t, ok := errors.AsType[interface {
		error
		Timeout() bool
	}](err)
	return ok && t.Timeout()
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
