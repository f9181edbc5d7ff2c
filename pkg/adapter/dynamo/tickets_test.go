package dynamo_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/ddbfault"
	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// ticketed is an admission of key k at now by writer, with sequence seq.
func ticketed(k gateway.Key, now time.Time, writer string, seq int64) gateway.Admission {
	return gateway.Admission{KID: k.KID, Kind: k.Kind, SecretHash: k.SecretHash, Now: now,
		Ticket: gateway.Ticket{Writer: writer, Seq: seq}}
}

func usedAt(t *testing.T, s *dynamo.Store, kid string, now time.Time) gateway.KeyState {
	t.Helper()
	auth, err := s.GetKeyState(context.Background(), kid, now)
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// A counting write whose answer was lost and that DynamoDB applied is
// given back by its withdrawal, in every window, once: a second withdrawal
// changes nothing.
func TestWithdrawingAnAppliedWriteGivesItsCountsBackOnce(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	now := clock.Now()
	other := ticketed(k, now, "b0", now.UnixMilli())
	if _, admitted, err := s.AdmitKey(ctx, other); err != nil || !admitted {
		t.Fatalf("admit: %v, %v", admitted, err)
	}
	lost := ticketed(k, now, "a0", now.UnixMilli())
	if _, admitted, err := s.AdmitKey(ctx, lost); err != nil || !admitted {
		t.Fatalf("admit: %v, %v", admitted, err)
	}
	if got := usedAt(t, s, k.KID, now).Used; got != [3]int64{2, 2, 2} {
		t.Fatalf("before the withdrawal: %v", got)
	}
	for i, want := range []bool{true, false} {
		counted, err := s.WithdrawKey(ctx, lost, now.Add(time.Second))
		if err != nil || counted != want {
			t.Fatalf("withdrawal %d: counted %v, %v; want %v", i+1, counted, err, want)
		}
		if got := usedAt(t, s, k.KID, now).Used; got != [3]int64{1, 1, 1} {
			t.Fatalf("after withdrawal %d: minute, day, month = %v, want 1, 1, 1", i+1, got)
		}
	}
}

// A counting write that reaches DynamoDB only after its withdrawal (it was
// held up on the way, and its caller answered 503) is refused, so it is
// never counted; the writer's next write is admitted.
func TestAWriteThatArrivesAfterItsWithdrawalIsNeverCounted(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	now := clock.Now()
	late := ticketed(k, now, "a0", now.UnixMilli())
	counted, err := s.WithdrawKey(ctx, late, now.Add(time.Second))
	if err != nil || counted {
		t.Fatalf("withdrawal: counted %v, %v; want false", counted, err)
	}
	if _, admitted, err := s.AdmitKey(ctx, late); err != nil || admitted {
		t.Fatalf("the withdrawn write arriving: admitted %v, %v; want refused", admitted, err)
	}
	if got := usedAt(t, s, k.KID, now).Used; got != [3]int64{} {
		t.Fatalf("minute, day, month = %v, want nothing counted", got)
	}
	next := ticketed(k, now, "a0", now.UnixMilli()+2)
	if _, admitted, err := s.AdmitKey(ctx, next); err != nil || !admitted {
		t.Fatalf("the writer's next write: admitted %v, %v", admitted, err)
	}
	if got := usedAt(t, s, k.KID, now).Used; got != [3]int64{1, 1, 1} {
		t.Fatalf("minute, day, month = %v, want 1, 1, 1", got)
	}
}

// The SDK retries a request whose answer was lost; if the first attempt
// applied, the retry finds its own ticket and reports the admission, which
// is counted once.
func TestARetriedWriteThatAppliedIsAdmittedAndCountedOnce(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	now := clock.Now()
	a := ticketed(k, now, "a0", now.UnixMilli())
	for i := range 2 {
		auth, admitted, err := s.AdmitKey(ctx, a)
		if err != nil || !admitted || auth.KID != k.KID {
			t.Fatalf("attempt %d: admitted %v, %v", i+1, admitted, err)
		}
	}
	if got := usedAt(t, s, k.KID, now).Used; got != [3]int64{1, 1, 1} {
		t.Fatalf("minute, day, month = %v, want 1, 1, 1", got)
	}
}

// A request admitted in the last instant of a minute and withdrawn in the
// next (its workspace refused it) gives back its day and month, and
// leaves the new minute's count alone, even when a request of the new
// minute has already removed the old minute's counter.
func TestWithdrawalAcrossAMinuteBoundaryGivesBackTheDayAndMonth(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	late := time.Date(2026, 11, 27, 12, 0, 59, 990_000_000, time.UTC)
	next := time.Date(2026, 11, 27, 12, 1, 0, 10_000_000, time.UTC)
	first := ticketed(k, late, "a0", late.UnixMilli())
	for _, a := range []gateway.Admission{first, ticketed(k, next, "b0", next.UnixMilli())} { // the second removes 12:00's counter
		if _, admitted, err := s.AdmitKey(ctx, a); err != nil || !admitted {
			t.Fatalf("admit at %s: %v, %v", a.Now, admitted, err)
		}
	}
	if counted, err := s.WithdrawKey(ctx, first, next); err != nil || !counted {
		t.Fatalf("withdrawal: counted %v, %v", counted, err)
	}
	if got := usedAt(t, s, k.KID, next).Used; got != [3]int64{1, 1, 1} {
		t.Errorf("minute, day, month = %v, want 1, 1, 1: the withdrawn request must leave the day and month", got)
	}
}

// Tickets older than the horizon are cleaned off the item by later
// counting writes, so the item stays small; a ticket whose writer wrote
// again since it was seen stale is kept (the write that would remove it is
// refused once, and the caller reads the item and tries again).
func TestStaleTicketsAreRemovedButNeverAFreshOne(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	t0 := clock.Now()
	for _, w := range []string{"a0", "b0"} {
		if _, admitted, err := s.AdmitKey(ctx, ticketed(k, t0, w, t0.UnixMilli())); err != nil || !admitted {
			t.Fatalf("admit %s: %v, %v", w, admitted, err)
		}
	}
	later := t0.Add(gateway.TicketHorizon + time.Minute)
	stale := usedAt(t, s, k.KID, later).Stale
	if !slices.Contains(stale, "t_a0") || !slices.Contains(stale, "t_b0") {
		t.Fatalf("stale at %s = %v, want both tickets", later, stale)
	}
	// b0 writes again: its ticket is fresh, though c0 saw it stale.
	if _, admitted, err := s.AdmitKey(ctx, ticketed(k, later, "b0", later.UnixMilli())); err != nil || !admitted {
		t.Fatalf("b0 again: %v, %v", admitted, err)
	}
	c := ticketed(k, later, "c0", later.UnixMilli())
	c.Stale = stale
	auth, admitted, err := s.AdmitKey(ctx, c)
	if err != nil || admitted {
		t.Fatalf("c0 removing b0's fresh ticket: admitted %v, %v; want refused", admitted, err)
	}
	c.Stale = auth.Stale
	if _, admitted, err := s.AdmitKey(ctx, c); err != nil || !admitted {
		t.Fatalf("c0 with what it read: %v, %v", admitted, err)
	}
	after := usedAt(t, s, k.KID, later.Add(gateway.TicketHorizon+time.Minute)).Stale
	if slices.Contains(after, "t_a0") || !slices.Contains(after, "t_b0") || !slices.Contains(after, "t_c0") {
		t.Errorf("tickets left = %v, want b0's and c0's, not a0's", after)
	}
}

// A write that lands between its withdrawal's undo (refused: it had not
// applied) and its fence (then refused: it has) is undone by the
// withdrawal's next round.
func TestAWriteLandingBetweenUndoAndFenceIsGivenBack(t *testing.T) {
	ctx := context.Background()
	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	proxy, err := ddbfault.New(dynamotest.Endpoint(t), func(int64, string) ddbfault.Fault { return ddbfault.Interleave })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	direct := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	lossy := dynamo.New(dynamo.Config{Client: dynalite.NewClient(srv.URL), Tables: tables})
	createWorkspace(t, direct, "acme")
	k := createKey(t, direct, "acme")
	now := time.Now()
	a := ticketed(k, now, "a0", now.UnixMilli())
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, admitted, err := lossy.AdmitKey(short, a); err == nil || admitted {
		t.Fatalf("the held write answered: admitted %v, %v", admitted, err)
	}
	counted, err := lossy.WithdrawKey(ctx, a, now)
	proxy.Drain()
	if err != nil || !counted {
		t.Fatalf("withdrawal: counted %v, %v; want the write found and undone", counted, err)
	}
	if st := proxy.Stats(); st.HeldApplied != 1 {
		t.Fatalf("proxy %+v: the held write did not land during the withdrawal", st)
	}
	if got := usedAt(t, direct, k.KID, now).Used; got != [3]int64{} {
		t.Errorf("minute, day, month = %v, want nothing counted", got)
	}
}

// A write withdrawn while the shard it went to did not exist yet (sharding
// writes its shards one by one) is fenced on the shard: when sharding then
// creates the shard and the write arrives, it is refused, and the shard
// works as any other.
func TestAWriteToAShardNotYetCreatedIsFencedOut(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme") // 20 a day: two shards of 10
	now := clock.Now()
	late := ticketed(k, now, "a0", now.UnixMilli())
	late.Shard = 1
	if counted, err := s.WithdrawKey(ctx, late, now); err != nil || counted {
		t.Fatalf("withdrawal: counted %v, %v; want false", counted, err)
	}
	if _, err := s.ShardKey(ctx, k.KID, 2, now); err != nil {
		t.Fatal(err)
	}
	if _, admitted, err := s.AdmitKey(ctx, late); err != nil || admitted {
		t.Fatalf("the withdrawn write arriving: admitted %v, %v; want refused", admitted, err)
	}
	next := ticketed(k, now, "b0", now.UnixMilli())
	next.Shard = 1
	if _, admitted, err := s.AdmitKey(ctx, next); err != nil || !admitted {
		t.Fatalf("another write to the shard: admitted %v, %v", admitted, err)
	}
	shard, err := s.GetKeyShardState(ctx, k.KID, 0, now)
	if err != nil || shard.Used[1] != 1 || shard.Limits.RequestsPerDay != 10 {
		t.Errorf("shard 0: used %v of %d, %v; want 1 of 10", shard.Used, shard.Limits.RequestsPerDay, err)
	}
}

// A write that applied on a key's own item, which was then sharded, stays
// counted in the shards' shares after its withdrawal (sharding took the
// item's counts off them): the key admits one request fewer in that
// window, never more. The undo on the frozen item is still made, so a
// shard created afterwards takes the lower count.
func TestAWriteWithdrawnAfterItsKeyWasShardedNeverFreesMoreThanItTook(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme") // 20 a day
	now := clock.Now()
	a := ticketed(k, now, "a0", now.UnixMilli())
	if _, admitted, err := s.AdmitKey(ctx, a); err != nil || !admitted {
		t.Fatalf("admit: %v, %v", admitted, err)
	}
	if _, err := s.ShardKey(ctx, k.KID, 2, now); err != nil {
		t.Fatal(err)
	}
	if counted, err := s.WithdrawKey(ctx, a, now); err != nil || !counted {
		t.Fatalf("withdrawal: counted %v, %v", counted, err)
	}
	if got := usedAt(t, s, k.KID, now).Used; got != [3]int64{} {
		t.Errorf("the frozen item's counts = %v, want the write undone there", got)
	}
	var shardsUsed int64
	for i := range 2 {
		shard, err := s.GetKeyShardState(ctx, k.KID, i, now)
		if err != nil {
			t.Fatal(err)
		}
		shardsUsed += shard.Used[1]
	}
	if shardsUsed != 1 {
		t.Errorf("the shards hold %d of the day, want the 1 sharding took off them", shardsUsed)
	}
}

// A withdrawal never recreates a counter that a request of the next
// window removed (that request's container's clock was a moment ahead):
// it gives back what is still there.
func TestAWithdrawalNeverRecreatesARemovedCounter(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	late := time.Date(2026, 11, 27, 12, 0, 59, 990_000_000, time.UTC)
	next := late.Add(20 * time.Millisecond)
	first := ticketed(k, late, "a0", late.UnixMilli())
	for _, a := range []gateway.Admission{first, ticketed(k, next, "b0", next.UnixMilli())} { // the second removes 12:00's counter
		if _, admitted, err := s.AdmitKey(ctx, a); err != nil || !admitted {
			t.Fatalf("admit at %s: %v, %v", a.Now, admitted, err)
		}
	}
	// The withdrawing container's clock still reads 12:00:59.
	if counted, err := s.WithdrawKey(ctx, first, late); err != nil || !counted {
		t.Fatalf("withdrawal: counted %v, %v", counted, err)
	}
	if got := usedAt(t, s, k.KID, late).Used; got != [3]int64{0, 1, 1} {
		t.Errorf("at 12:00:59 minute, day, month = %v, want 0, 1, 1: no negative minute", got)
	}
}
