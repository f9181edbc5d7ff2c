package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func newClient(timeout time.Duration) *Client {
	return New(Config{
		HTTP:        &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: timeout}},
		BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name         string
		statuses     []int // answers in order; the last repeats
		wantStatus   int
		wantAttempts int
	}{
		{"success at once", []int{200}, 200, 1},
		{"two 5xx then success", []int{500, 503, 200}, 200, 3},
		{"exhausted", []int{502}, 502, 3},
		{"4xx passes through unretried", []int{400}, 400, 1},
		{"429 then success", []int{429, 200}, 200, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(calls.Add(1)) - 1
				w.WriteHeader(tc.statuses[min(i, len(tc.statuses)-1)])
			}))
			defer srv.Close()
			res := newClient(time.Second).Do(context.Background(), Request{Method: "POST", URL: srv.URL, Header: http.Header{}})
			if res.Response == nil {
				t.Fatalf("no response: %v", res.Err)
			}
			defer res.Response.Body.Close()
			if res.Response.StatusCode != tc.wantStatus || res.Attempts != tc.wantAttempts || int(calls.Load()) != tc.wantAttempts {
				t.Errorf("status %d after %d attempts (%d calls), want %d after %d", res.Response.StatusCode, res.Attempts, calls.Load(), tc.wantStatus, tc.wantAttempts)
			}
		})
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int32
	var firstAt, secondAt time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			firstAt = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			return
		}
		secondAt = time.Now()
		w.WriteHeader(200)
	}))
	defer srv.Close()
	res := newClient(time.Second).Do(context.Background(), Request{Method: "POST", URL: srv.URL})
	if res.Response == nil || res.Response.StatusCode != 200 {
		t.Fatalf("result %+v", res)
	}
	res.Response.Body.Close()
	if gap := secondAt.Sub(firstAt); gap < 900*time.Millisecond {
		t.Errorf("retried after %s, want at least the 1 s Retry-After", gap)
	}
}

func TestRetryAfterBeyondDeadlineStops(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	res := newClient(time.Second).Do(ctx, Request{Method: "POST", URL: srv.URL})
	if res.Response == nil || res.Response.StatusCode != 503 || calls.Load() != 1 {
		t.Fatalf("status %v after %d calls, want the 503 after 1", res.Response, calls.Load())
	}
	res.Response.Body.Close()
	if time.Since(start) > time.Second {
		t.Error("waited although the deadline left no room for a retry")
	}
}

func TestTimeoutsAreRetriedAndReported(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	res := newClient(50*time.Millisecond).Do(context.Background(), Request{Method: "POST", URL: srv.URL})
	if res.Response != nil || !res.TimedOut || res.Attempts != 3 || calls.Load() != 3 {
		t.Errorf("result %+v after %d calls, want a timeout after 3 attempts", res, calls.Load())
	}
}

func TestConnectionErrorsAreRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	res := newClient(time.Second).Do(context.Background(), Request{Method: "POST", URL: url})
	if res.Response != nil || res.Err == nil || res.Attempts != 3 {
		t.Errorf("result %+v, want a connection error after 3 attempts", res)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"2": 2 * time.Second, "0.5": 500 * time.Millisecond, "Fri, 27 Nov 2026 12:00:03 GMT": 3 * time.Second,
	} {
		if got, ok := RetryAfter(v, now); !ok || got != want {
			t.Errorf("RetryAfter(%q) = %s, %v; want %s", v, got, ok, want)
		}
	}
	if _, ok := RetryAfter("soon", now); ok {
		t.Error("RetryAfter(soon) parsed")
	}
}
