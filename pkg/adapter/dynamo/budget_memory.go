package dynamo

import (
	"sync"
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
)

// budgetMemory keeps, per budget item, what the last write this container
// made returned: the used attributes of past spans, which the next
// reservation removes, and the buckets, whose expired ones the next settle
// reclaims. Both ride on writes a request makes anyway, so tidying costs no
// call; a stale memory costs nothing but a retried settle.
type budgetMemory struct {
	mu    sync.Mutex
	views map[string]ledgerView
}

// maxRemembered bounds the memory: a container serves a few hot keys, and
// forgetting one costs only a tidier write later.
const maxRemembered = 1024

func (s *Store) rememberBudget(pk string, v ledgerView) {
	m := &s.budgets
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.views == nil || len(m.views) >= maxRemembered {
		m.views = map[string]ledgerView{}
	}
	m.views[pk] = v
}

// staleBudgetAttrs lists used attributes to remove in a reservation at now:
// the previous span of each calendar window, and the past spans the last
// view held; never one the reservation itself adds to.
func (s *Store) staleBudgetAttrs(pk string, now time.Time) []string {
	current := map[string]bool{}
	for _, w := range budget.Windows {
		current[usedAttr(w, now)] = true
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !current[name] && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, w := range budget.Windows {
		if c, ok := w.Calendar(); ok {
			add(budgetUsedPrefix + w.Short() + "_" + c.PreviousID(now))
		}
	}
	s.budgets.mu.Lock()
	defer s.budgets.mu.Unlock()
	for _, name := range s.budgets.views[pk].stale {
		add(name)
	}
	return out
}

// expiredSeen lists the buckets the last view of pk held that are expired
// at now.
func (s *Store) expiredSeen(pk string, now time.Time) []bucket {
	s.budgets.mu.Lock()
	defer s.budgets.mu.Unlock()
	return s.budgets.views[pk].expired(now)
}
