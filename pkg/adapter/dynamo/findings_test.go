package dynamo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
)

func finding(ws, kid string, typ findings.Type) findings.Finding {
	return findings.Finding{WorkspaceID: ws, KID: kid, Type: typ, Severity: "high", Observed: 50, ExpectedHigh: 2.5,
		WindowStart: time.Date(2026, 11, 27, 11, 55, 0, 0, time.UTC), WindowEnd: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		Sentence: "50 wrong-secret refusals in 5 minutes."}
}

// Of many concurrent Opens of one key and type, exactly one is new, and
// every caller gets that one finding back.
func TestOpenDedupsUnderConcurrency(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	const callers = 20
	var wg sync.WaitGroup
	ids := make([]string, callers)
	isNew := make([]bool, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			f, created, err := s.Open(ctx, finding("acme", "AAAAAAAAAAAA", findings.AuthFailures))
			ids[i], isNew[i], errs[i] = f.ID, created, err
		})
	}
	wg.Wait()
	news := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("Open: %v", errs[i])
		}
		if isNew[i] {
			news++
		}
		if ids[i] != ids[0] {
			t.Errorf("caller %d got finding %s, caller 0 got %s", i, ids[i], ids[0])
		}
	}
	if news != 1 {
		t.Errorf("%d Opens were new, want exactly 1", news)
	}
	page, err := s.List(ctx, "acme", findings.ListOptions{})
	if err != nil || len(page.Findings) != 1 {
		t.Fatalf("List: %d findings, %v; want 1", len(page.Findings), err)
	}
}

// Resolving re-arms the marker: the next finding of that type is new, and
// a different type or key is never deduplicated against it.
func TestResolveReopensAndTypesAreSeparate(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	first, created, err := s.Open(ctx, finding("acme", "AAAAAAAAAAAA", findings.AuthFailures))
	if err != nil || !created || first.Status != findings.Open {
		t.Fatalf("first Open: %+v %v %v", first, created, err)
	}
	if _, created, _ := s.Open(ctx, finding("acme", "AAAAAAAAAAAA", findings.SpendSpike)); !created {
		t.Error("another type of the same key was deduplicated")
	}
	if _, created, _ := s.Open(ctx, finding("acme", "BBBBBBBBBBBB", findings.AuthFailures)); !created {
		t.Error("the same type of another key was deduplicated")
	}
	if _, err := s.Resolve(ctx, "other", first.ID, "MMMMMMMMMMMM", clock.Now()); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Errorf("another workspace resolved it: %v", err)
	}
	clock.Advance(time.Minute)
	resolved, err := s.Resolve(ctx, "acme", first.ID, "MMMMMMMMMMMM", clock.Now())
	if err != nil || resolved.Status != findings.Resolved || resolved.ResolvedBy != "MMMMMMMMMMMM" || !resolved.ResolvedAt.Equal(clock.Now()) {
		t.Fatalf("Resolve: %+v, %v", resolved, err)
	}
	again, err := s.Resolve(ctx, "acme", first.ID, "NNNNNNNNNNNN", clock.Now().Add(time.Hour))
	if err != nil || again.ResolvedBy != "MMMMMMMMMMMM" {
		t.Errorf("resolving twice changed it: %+v, %v", again, err)
	}
	clock.Advance(time.Minute)
	second, created, err := s.Open(ctx, finding("acme", "AAAAAAAAAAAA", findings.AuthFailures))
	if err != nil || !created || second.ID == first.ID {
		t.Fatalf("Open after resolve: %+v new=%v %v; want a new finding", second, created, err)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	var opened []findings.Finding
	for i := range 7 {
		kid := "AAAAAAAAAAAA"
		if i%2 == 1 {
			kid = "BBBBBBBBBBBB"
		}
		typ := []findings.Type{findings.TrafficSpike, findings.NewModel, findings.ErrorRateSpike, findings.AccessDenied}[i/2]
		f, _, err := s.Open(ctx, finding("acme", kid, typ))
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, f)
		clock.Advance(time.Minute)
	}
	if _, _, err := s.Open(ctx, finding("other", "CCCCCCCCCCCC", findings.TrafficSpike)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, "acme", opened[6].ID, "MMMMMMMMMMMM", clock.Now()); err != nil {
		t.Fatal(err)
	}

	// Newest first, two at a time, to the end.
	var got []string
	cursor := ""
	for range 10 {
		page, err := s.List(ctx, "acme", findings.ListOptions{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Findings {
			got = append(got, f.ID)
		}
		if cursor = page.Cursor; cursor == "" {
			break
		}
	}
	if len(got) != 7 || got[0] != opened[6].ID || got[6] != opened[0].ID {
		t.Errorf("paged listing = %v, want the 7 findings newest first", got)
	}

	for _, tc := range []struct {
		name string
		opts findings.ListOptions
		want int
	}{
		{"by kid", findings.ListOptions{KID: "BBBBBBBBBBBB"}, 3},
		{"open only", findings.ListOptions{Status: findings.Open}, 6},
		{"resolved only", findings.ListOptions{Status: findings.Resolved}, 1},
		{"since", findings.ListOptions{Since: opened[4].CreatedAt}, 3},
		{"kid and status", findings.ListOptions{KID: "AAAAAAAAAAAA", Status: findings.Open}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.List(ctx, "acme", tc.opts)
			if err != nil || len(page.Findings) != tc.want {
				t.Errorf("got %d findings, %v; want %d", len(page.Findings), err, tc.want)
			}
		})
	}

	if _, err := s.List(ctx, "other", findings.ListOptions{Cursor: cursor}); err == nil && cursor != "" {
		t.Error("a cursor of another workspace was accepted")
	}
	page, _ := s.List(ctx, "acme", findings.ListOptions{Limit: 1})
	if _, err := s.List(ctx, "other", findings.ListOptions{Cursor: page.Cursor}); gateway.ErrorCode(err) != gateway.CodeInvalidCursor {
		t.Errorf("another workspace's cursor: %v, want invalid_cursor", err)
	}
	f := opened[3]
	stored, err := s.GetFinding(ctx, "acme", f.ID)
	if err != nil || stored.Observed != 50 || stored.ExpectedHigh != 2.5 || stored.Sentence != f.Sentence || !stored.WindowEnd.Equal(f.WindowEnd) {
		t.Errorf("round trip: %+v, %v", stored, err)
	}
}

func TestFindingIDs(t *testing.T) {
	id := dynamo.NewFindingID(time.Now())
	if !dynamo.IsFindingID(id) {
		t.Errorf("%s is not a finding id", id)
	}
	for _, bad := range []string{"", "x", id + "A", "../../" + id[6:]} {
		if dynamo.IsFindingID(bad) {
			t.Errorf("%q passed as a finding id", bad)
		}
	}
}
