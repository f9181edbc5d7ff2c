package management_test

import (
	"context"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// Issue 11, defect 10: GET /v1/key counted in limits but not in usage.

func TestOwnKeyReadCountsInUsage(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"self-reader"}`)
	self := authcontext.Context{KID: kid, WorkspaceID: "acme", Kind: gateway.KindInference}
	for range 3 {
		if a := e.call(self, "GET", "/key", "", "", nil); a.status != 200 || a.data()["kid"] != kid {
			t.Fatalf("GET /key: %d %s", a.status, a.raw)
		}
	}
	totals, err := e.store.KeyTotals(context.Background(), kid, e.now.Add(-time.Hour), e.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := totals.Requests
	if want := int64(3); got != want {
		t.Errorf("usage after 3 × GET /v1/key: got %d requests, want %d (the authorizer counted each against the key's limits)", got, want)
	}
}
