package dynamo_test

import (
	"context"
	"crypto/rand"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/testclock"

	"github.com/aistats/edge/internal/local/dynalite"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

func newStore(t *testing.T) (*dynamo.Store, *testclock.Clock) {
	t.Helper()
	client := dynamotest.NewClient(t)
	clock := testclock.At(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	return dynamo.New(dynamo.Config{Client: client, Tables: dynamotest.NewTables(t, client), Now: clock.Now}), clock
}

func createWorkspace(t *testing.T, s *dynamo.Store, id string) {
	t.Helper()
	ws := gateway.Workspace{ID: id, Name: "Workspace " + id, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}
	if err := s.CreateWorkspace(context.Background(), ws); err != nil {
		t.Fatalf("CreateWorkspace(%s): %v", id, err)
	}
}

func newKey(t *testing.T, workspaceID string, kind gateway.KeyKind) gateway.Key {
	t.Helper()
	g, err := keyformat.Generate(rand.Reader, kind)
	if err != nil {
		t.Fatal(err)
	}
	return gateway.Key{
		KID: g.Token.KID, WorkspaceID: workspaceID, Kind: kind, Name: "test key",
		Prefix: g.Token.Prefix(), SecretHash: g.Hash,
		Models: []string{"local/echo"}, Limits: gateway.Limits{RequestsPerDay: 20},
	}
}

func createKey(t *testing.T, s *dynamo.Store, workspaceID string) gateway.Key {
	t.Helper()
	k := newKey(t, workspaceID, gateway.KindInference)
	if err := s.CreateKey(context.Background(), k); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return k
}

func wantCode(t *testing.T, err error, want gateway.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want code %s", want)
	}
	if got := gateway.ErrorCode(err); got != want {
		t.Fatalf("error code = %s (%v), want %s", got, err, want)
	}
}

func TestWorkspaceLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	createWorkspace(t, s, "acme")

	got, err := s.GetWorkspace(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != gateway.WorkspaceActive || got.Name != "Workspace acme" || !slices.Equal(got.Plan.Models, []string{"*"}) {
		t.Errorf("GetWorkspace = %+v, want the created active workspace", got)
	}
	wantCode(t, s.CreateWorkspace(ctx, gateway.Workspace{ID: "acme"}), gateway.CodeAlreadyExists)
	_, err = s.GetWorkspace(ctx, "nope")
	wantCode(t, err, gateway.CodeWorkspaceNotFound)
	_, err = s.SetWorkspaceStatus(ctx, "nope", gateway.WorkspaceDisabled)
	wantCode(t, err, gateway.CodeWorkspaceNotFound)
	_, err = s.SetWorkspaceStatus(ctx, "acme", "paused")
	wantCode(t, err, gateway.CodeValidationError)
}

func TestCreateAndGetKey(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := newKey(t, "acme", gateway.KindInference)
	expires := clock.Now().Add(time.Hour)
	k.ExpiresAt = &expires
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}

	got, err := s.GetKey(ctx, k.KID)
	if err != nil {
		t.Fatal(err)
	}
	if got.KID != k.KID || got.WorkspaceID != "acme" || got.Status != gateway.KeyActive ||
		!slices.Equal(got.SecretHash, k.SecretHash) || !slices.Equal(got.Models, k.Models) ||
		got.Limits != k.Limits || !got.CreatedAt.Equal(clock.Now()) || got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) {
		t.Errorf("GetKey = %+v, want the created key %+v", got, k)
	}
	st, err := s.GetKeyState(ctx, k.KID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != gateway.KeyActive || st.WorkspaceDisabled || st.ExpiresAt == nil || !st.ExpiresAt.Equal(expires) {
		t.Errorf("state = %+v, want active with the key's expiry", st)
	}

	t.Run("kid taken", func(t *testing.T) {
		wantCode(t, s.CreateKey(ctx, k), gateway.CodeAlreadyExists)
	})
	t.Run("unknown workspace", func(t *testing.T) {
		wantCode(t, s.CreateKey(ctx, newKey(t, "ghost", gateway.KindInference)), gateway.CodeWorkspaceNotFound)
	})
	t.Run("missing key", func(t *testing.T) {
		_, err := s.GetKey(ctx, "AAAAAAAAAAAA")
		wantCode(t, err, gateway.CodeKeyNotFound)
		_, err = s.GetKeyState(ctx, "AAAAAAAAAAAA", time.Now())
		wantCode(t, err, gateway.CodeKeyNotFound)
	})
}

func TestListKeysPaginates(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	createWorkspace(t, s, "other")
	var want []string
	for range 7 {
		clock.Advance(time.Second)
		want = append(want, createKey(t, s, "acme").KID)
	}
	createKey(t, s, "other")

	var got []string
	cursor := ""
	pages := 0
	for {
		page, err := s.ListKeys(ctx, "acme", gateway.ListKeysOptions{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range page.Keys {
			got = append(got, k.KID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed kids %v, want %v (oldest first, no other workspace)", got, want)
	}
	if pages < 3 {
		t.Errorf("listed in %d pages, want at least 3 with limit 3", pages)
	}

	t.Run("pages filtered by kind are full", func(t *testing.T) {
		// Seven inference keys, then management keys between more
		// inference keys: DynamoDB filters after Limit, the store must not.
		var mks, sks []string
		for i := range 6 {
			clock.Advance(time.Second)
			k := newKey(t, "acme", gateway.KindManagement)
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			mks = append(mks, k.KID)
			if i%2 == 1 {
				clock.Advance(time.Second)
				sks = append(sks, createKey(t, s, "acme").KID)
			}
		}
		list := func(kind gateway.KeyKind, limit int) (kids []string, sizes []int) {
			cursor := ""
			for range 20 {
				page, err := s.ListKeys(ctx, "acme", gateway.ListKeysOptions{Limit: limit, Cursor: cursor, Kind: kind})
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(page.Keys))
				for _, k := range page.Keys {
					if k.Kind != kind {
						t.Errorf("%s listed among %s keys", k.KID, kind)
					}
					kids = append(kids, k.KID)
				}
				if cursor = page.NextCursor; cursor == "" {
					return kids, sizes
				}
			}
			t.Fatal("pagination does not end")
			return nil, nil
		}
		if kids, sizes := list(gateway.KindManagement, 4); !slices.Equal(kids, mks) || sizes[0] != 4 {
			t.Errorf("management keys %v in pages of %v, want %v with a full first page", kids, sizes, mks)
		}
		kids, sizes := list(gateway.KindInference, 3)
		if wantKids := append(slices.Clone(want), sks...); !slices.Equal(kids, wantKids) {
			t.Errorf("inference keys %v, want %v", kids, wantKids)
		}
		for i, n := range sizes[:len(sizes)-1] {
			if n != 3 {
				t.Errorf("page %d holds %d keys, want 3: only the last page may be short (%v)", i, n, sizes)
			}
		}
	})
	t.Run("cursor of another workspace", func(t *testing.T) {
		page, err := s.ListKeys(ctx, "acme", gateway.ListKeysOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.ListKeys(ctx, "other", gateway.ListKeysOptions{Cursor: page.NextCursor})
		wantCode(t, err, gateway.CodeInvalidCursor)
	})
	t.Run("garbage cursor", func(t *testing.T) {
		_, err := s.ListKeys(ctx, "acme", gateway.ListKeysOptions{Cursor: "%%%"})
		wantCode(t, err, gateway.CodeInvalidCursor)
	})
	t.Run("limit out of range is bounded, not refused", func(t *testing.T) {
		// Validating a client's limit is the management layer's job; the
		// store only keeps its queries bounded.
		page, err := s.ListKeys(ctx, "acme", gateway.ListKeysOptions{Limit: dynamo.MaxPageSize + 1})
		if err != nil {
			t.Fatalf("ListKeys with limit %d: %v, want a bounded page", dynamo.MaxPageSize+1, err)
		}
		if got, want := len(page.Keys), len(want); got > dynamo.MaxPageSize || got < min(want, dynamo.MaxPageSize) {
			t.Errorf("page holds %d keys, want %d", got, want)
		}
	})
	t.Run("empty workspace", func(t *testing.T) {
		createWorkspace(t, s, "empty")
		page, err := s.ListKeys(ctx, "empty", gateway.ListKeysOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Keys) != 0 || page.NextCursor != "" {
			t.Errorf("page = %+v, want empty and final", page)
		}
	})
}

func TestUpdateKey(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")

	name := "renamed"
	limits := gateway.Limits{RequestsPerMinute: 5}
	disabled := true
	expires := clock.Now().Add(time.Minute)
	got, err := s.UpdateKey(ctx, k.KID, gateway.KeyUpdate{Name: &name, Limits: &limits, Disabled: &disabled, ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.Limits != limits || got.Status != gateway.KeyDisabled || !got.ExpiresAt.Equal(expires) ||
		!slices.Equal(got.Models, k.Models) {
		t.Errorf("UpdateKey = %+v, want renamed, new limits, disabled, expiring, models unchanged", got)
	}
	st, err := s.GetKeyState(ctx, k.KID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != gateway.KeyDisabled || !st.ExpiresAt.Equal(expires) {
		t.Errorf("state = %+v, want disabled with the new expiry", st)
	}

	enabled := false
	if _, err := s.UpdateKey(ctx, k.KID, gateway.KeyUpdate{Disabled: &enabled, ClearExpiry: true}); err != nil {
		t.Fatal(err)
	}
	st, err = s.GetKeyState(ctx, k.KID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != gateway.KeyActive || st.ExpiresAt != nil {
		t.Errorf("state = %+v, want active with no expiry", st)
	}

	t.Run("missing key", func(t *testing.T) {
		_, err := s.UpdateKey(ctx, "AAAAAAAAAAAA", gateway.KeyUpdate{Name: &name})
		wantCode(t, err, gateway.CodeKeyNotFound)
	})
}

func TestRevokeKey(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")

	got, err := s.RevokeKey(ctx, k.KID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != gateway.KeyRevoked || got.RevokedAt == nil {
		t.Errorf("RevokeKey = %+v, want revoked with a time", got)
	}
	st, err := s.GetKeyState(ctx, k.KID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != gateway.KeyRevoked {
		t.Errorf("state = %s, want revoked", st.Status)
	}
	if _, err := s.RevokeKey(ctx, k.KID); err != nil {
		t.Errorf("revoking twice: %v, want success", err)
	}
	enable := false
	_, err = s.UpdateKey(ctx, k.KID, gateway.KeyUpdate{Disabled: &enable})
	wantCode(t, err, gateway.CodeKeyNotActive)
	if st, _ := s.GetKeyState(ctx, k.KID, time.Now()); st.Status != gateway.KeyRevoked {
		t.Errorf("state after refused re-enable = %s, want revoked", st.Status)
	}
	_, err = s.RevokeKey(ctx, "AAAAAAAAAAAA")
	wantCode(t, err, gateway.CodeKeyNotFound)
}

func TestDisableWorkspaceReachesEveryKey(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	createWorkspace(t, s, "acme")
	createWorkspace(t, s, "other")
	var kids []string
	for range 5 {
		kids = append(kids, createKey(t, s, "acme").KID)
	}
	bystander := createKey(t, s, "other").KID

	if _, err := s.SetWorkspaceStatus(ctx, "acme", gateway.WorkspaceDisabled); err != nil {
		t.Fatal(err)
	}
	for _, kid := range kids {
		if st, err := s.GetKeyState(ctx, kid, time.Now()); err != nil || !st.WorkspaceDisabled {
			t.Errorf("key %s state = %+v, %v; want workspace disabled", kid, st, err)
		}
	}
	if st, _ := s.GetKeyState(ctx, bystander, time.Now()); st.WorkspaceDisabled {
		t.Error("a key of another workspace was disabled")
	}
	late := createKey(t, s, "acme")
	if st, _ := s.GetKeyState(ctx, late.KID, time.Now()); !st.WorkspaceDisabled {
		t.Error("a key created in a disabled workspace is not marked disabled")
	}

	if _, err := s.SetWorkspaceStatus(ctx, "acme", gateway.WorkspaceActive); err != nil {
		t.Fatal(err)
	}
	for _, kid := range append(kids, late.KID) {
		if st, _ := s.GetKeyState(ctx, kid, time.Now()); st.WorkspaceDisabled {
			t.Errorf("key %s still disabled after the workspace was enabled", kid)
		}
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	client := dynalite.NewClient("http://127.0.0.1:1")
	s := dynamo.New(dynamo.Config{Client: client, Tables: dynamo.TablesWithPrefix("x-")})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.GetKey(ctx, "AAAAAAAAAAAA")
	wantCode(t, err, gateway.CodeServiceUnavailable)
	body := string(gateway.MarshalErrorBody(err, "req-1"))
	if want := `"code":"service_unavailable"`; !strings.Contains(body, want) || strings.Contains(body, "127.0.0.1") {
		t.Errorf("client body %s: want %s and no internal detail", body, want)
	}
}
