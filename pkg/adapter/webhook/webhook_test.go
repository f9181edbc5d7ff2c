package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/adapter/webhook"
)

// receiver is a real local HTTP server that checks every delivery's
// signature, as a customer's receiver would, and answers from statuses.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	verified int
	bodies   []string
	secret   string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) == nil {
		r.verified++
	}
	r.bodies = append(r.bodies, string(body))
	status := 200
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	w.WriteHeader(status)
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestDeliverSignsAndRetriesServerErrors(t *testing.T) {
	rcv := &receiver{secret: "whsec_test", statuses: []int{503, 429, 200}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	c := webhook.New(webhook.Config{Rule: webhook.Rule{AllowLoopbackHTTP: true}, Sleep: noSleep})
	res := c.Deliver(context.Background(), srv.URL+"/hook", "whsec_test", "f1", []byte(`{"id":"f1"}`))
	if res.Err != nil || res.Status != 200 || res.Attempts != 3 {
		t.Fatalf("got %+v, want 200 on the third attempt", res)
	}
	if rcv.verified != 3 {
		t.Errorf("%d of 3 deliveries had a valid signature", rcv.verified)
	}
}

func TestDeliverGivesUpOnClientErrorsAndAfterItsAttempts(t *testing.T) {
	rcv := &receiver{secret: "s", statuses: []int{400, 500, 500, 500, 500, 500}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	c := webhook.New(webhook.Config{Rule: webhook.Rule{AllowLoopbackHTTP: true}, Sleep: noSleep})
	if res := c.Deliver(context.Background(), srv.URL, "s", "f1", []byte(`{}`)); res.Status != 400 || res.Attempts != 1 || res.Err == nil {
		t.Errorf("400: got %+v, want one attempt and an error", res)
	}
	if res := c.Deliver(context.Background(), srv.URL, "s", "f2", []byte(`{}`)); res.Status != 500 || res.Attempts != 4 || res.Err == nil {
		t.Errorf("500s: got %+v, want four attempts and an error", res)
	}
	// A network failure is retried too, and reported without the URL.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	res := c.Deliver(context.Background(), "http://"+addr+"/secret-token-in-path", "s", "f3", []byte(`{}`))
	if res.Status != 0 || res.Attempts != 4 || res.Err == nil {
		t.Errorf("refused connection: got %+v", res)
	}
	if res.Err != nil && strings.Contains(res.Err.Error(), "secret-token-in-path") {
		t.Errorf("the error repeats the URL: %v", res.Err)
	}
}

func TestRuleRefusesWhatMustNotBeCalled(t *testing.T) {
	aws, local := webhook.Rule{}, webhook.Rule{AllowLoopbackHTTP: true}
	for _, tc := range []struct {
		url       string
		rule      webhook.Rule
		wantError bool
	}{
		{"https://hooks.example.com/aistats", aws, false},
		{"http://hooks.example.com/aistats", aws, true},
		{"http://hooks.example.com/aistats", local, true},
		{"http://127.0.0.1:9000/hook", aws, true},
		{"http://127.0.0.1:9000/hook", local, false},
		{"http://localhost:9000/hook", local, false},
		{"https://localhost/hook", aws, true},
		{"https://169.254.169.254/latest/meta-data/", aws, true},
		{"https://169.254.169.254/latest/meta-data/", local, true},
		{"https://[fd00:ec2::254]/latest/meta-data/", aws, true},
		{"https://10.0.0.1/", aws, true},
		{"https://[::ffff:169.254.169.254]/", aws, true},
		{"https://user:pass@hooks.example.com/", aws, true},
		{"ftp://hooks.example.com/", aws, true},
		{"hooks.example.com/aistats", aws, true},
		{"", aws, true},
	} {
		err := tc.rule.Check(tc.url)
		if (err != nil) != tc.wantError {
			t.Errorf("Check(%q, loopback=%v) = %v, want error %v", tc.url, tc.rule.AllowLoopbackHTTP, err, tc.wantError)
		}
		if err != nil && !errors.Is(err, webhook.ErrURL) {
			t.Errorf("Check(%q) error does not wrap ErrURL", tc.url)
		}
	}
	// The dial guard refuses by address, whatever name resolved to it.
	for _, addr := range []string{"169.254.169.254:80", "127.0.0.1:9001", "[fe80::1]:443", "10.1.2.3:443"} {
		if aws.Control("tcp", addr, nil) == nil {
			t.Errorf("Control allowed %s", addr)
		}
	}
	if aws.Control("tcp", "93.184.215.14:443", nil) != nil {
		t.Error("Control refused a public address")
	}
}

// A delivery whose name resolves to loopback is refused at the dial, not
// only by Check: the guard sits in the transport.
func TestDialGuardRefusesLoopback(t *testing.T) {
	rcv := &receiver{secret: "s"}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	d := &net.Dialer{Control: webhook.Rule{}.Control}
	if conn, err := d.Dial("tcp", srv.Listener.Addr().String()); err == nil {
		conn.Close()
		t.Fatal("dialled loopback under the AWS rule")
	}
}

func TestVerifyRefusesForgeriesAndReplays(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"f1"}`)
	h := webhook.Sign("whsec_a", now, body)
	if err := webhook.Verify("whsec_a", h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("valid signature refused: %v", err)
	}
	for name, check := range map[string]error{
		"other secret": webhook.Verify("whsec_b", h, body, now, 5*time.Minute),
		"other body":   webhook.Verify("whsec_a", h, []byte(`{"id":"f2"}`), now, 5*time.Minute),
		"replayed":     webhook.Verify("whsec_a", h, body, now.Add(time.Hour), 5*time.Minute),
		"malformed":    webhook.Verify("whsec_a", "v1=abc", body, now, 5*time.Minute),
	} {
		if check == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := webhook.NewSecret(nil)
	if err != nil || len(s) != len(webhook.SecretPrefix)+52 {
		t.Errorf("NewSecret = %q, %v", s, err)
	}
}
