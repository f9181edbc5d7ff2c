package dynamo_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

func TestWebhookSettingsAndDeliveryStatus(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	createWorkspace(t, s, "acme")
	ws, err := s.SetWebhook(ctx, "acme", "https://hooks.example.com/a", "whsec_x", clock.Now())
	if err != nil || ws.Alerts.WebhookURL != "https://hooks.example.com/a" || ws.Alerts.WebhookSecret != "whsec_x" || ws.Alerts.LastDelivery != nil {
		t.Fatalf("SetWebhook: %+v, %v", ws.Alerts, err)
	}
	if err := s.RecordDelivery(ctx, "acme", "https://hooks.example.com/a", gateway.Delivery{At: clock.Now(), FindingID: "f1", Status: 503, Error: "503 after 4 attempts"}); err != nil {
		t.Fatal(err)
	}
	// A delivery to a webhook replaced meanwhile is not recorded.
	if err := s.RecordDelivery(ctx, "acme", "https://old.example.com", gateway.Delivery{At: clock.Now(), OK: true, Status: 200}); err != nil {
		t.Fatal(err)
	}
	ws, _ = s.GetWorkspace(ctx, "acme")
	if d := ws.Alerts.LastDelivery; d == nil || d.OK || d.Status != 503 || d.FindingID != "f1" {
		t.Errorf("last delivery = %+v, want the failed 503", d)
	}
	if ws, err = s.SetAutoDisable(ctx, "acme", true); err != nil || !ws.Alerts.AutoDisable {
		t.Errorf("SetAutoDisable: %+v, %v", ws.Alerts, err)
	}
	ws, err = s.DeleteWebhook(ctx, "acme")
	if err != nil || ws.Alerts.WebhookURL != "" || ws.Alerts.WebhookSecret != "" || ws.Alerts.LastDelivery != nil || !ws.Alerts.AutoDisable {
		t.Errorf("DeleteWebhook: %+v, %v; want no webhook, auto_disable kept", ws.Alerts, err)
	}
	if _, err := s.SetWebhook(ctx, "nobody", "https://x", "s", clock.Now()); gateway.ErrorCode(err) != gateway.CodeWorkspaceNotFound {
		t.Errorf("webhook of a missing workspace: %v", err)
	}
}

// With limit L, exactly L of many concurrent requests from one source are
// counted in a minute; another source and the next minute start afresh.
func TestCountBySourceIsExact(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	clock.Set(time.Date(2026, 11, 27, 12, 0, 15, 0, time.UTC))
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 25 {
		wg.Go(func() {
			ok, _, err := s.CountBySource(ctx, "leak", "192.0.2.1", 10)
			if err != nil {
				t.Error(err)
			}
			if ok {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 10 {
		t.Errorf("admitted %d, want 10", admitted.Load())
	}
	ok, retry, _ := s.CountBySource(ctx, "leak", "192.0.2.1", 10)
	if ok || retry != 45*time.Second {
		t.Errorf("11th: ok=%v retry=%v; want refused, 45s", ok, retry)
	}
	if ok, _, _ := s.CountBySource(ctx, "leak", "192.0.2.2", 10); !ok {
		t.Error("another source was refused")
	}
	clock.Advance(time.Minute)
	if ok, _, _ := s.CountBySource(ctx, "leak", "192.0.2.1", 10); !ok {
		t.Error("the next minute was refused")
	}
}
