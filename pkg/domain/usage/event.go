// Package usage is the gateway's usage and spend data (docs/architecture.md
// §6): the event one answered request produces, and the rollups that
// analytics, anomaly detection and budgets read. It holds metadata only:
// nothing from a request's body is ever part of an event.
package usage

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"
)

// ErrSampleNotKept marks a failure that was counted in the usage but not
// kept in its key's sample of recent failures: the sample is a
// convenience, so the caller logs it and goes on; nothing was lost.
var ErrSampleNotKept = errors.New("failure not kept in the key's sample")

// Recorder records answered requests. An error means the event could not
// be recorded even after retries and the fallback; the caller logs it with
// the event's metadata and counts it as lost.
type Recorder interface {
	RecordUsage(ctx context.Context, e Event) error
}

// Class is a status class: the breakdown every rollup keeps. The classes
// that mean something different to an operator are kept apart (a 401 is a
// key problem, a 429 a limit, an upstream 5xx a provider's outage); the
// rest of 4xx share one class so that the set stays small and fixed.
type Class uint8

// The status classes, in the order they are stored and shown.
const (
	Class2xx Class = iota
	Class400
	Class401
	Class403
	Class404
	Class429
	Class4xx
	Class5xx
	ClassUpstream5xx
	// ClassError counts errors recorded before classes were kept: the
	// first rollups counted "errors" without a status. Nothing new is
	// recorded in it.
	ClassError
	NumClasses
)

var classNames = [NumClasses]string{"2xx", "400", "401", "403", "404", "429", "4xx", "5xx", "upstream_5xx", "error"}

// String is the class's name on the wire and in storage.
func (c Class) String() string {
	if c >= NumClasses {
		return "unknown"
	}
	return classNames[c]
}

// ParseClass is the inverse of String.
func ParseClass(s string) (Class, bool) {
	for i, n := range classNames {
		if n == s {
			return Class(i), true
		}
	}
	return 0, false
}

// IsError reports whether the class is a failed request: every class but 2xx.
func (c Class) IsError() bool { return c != Class2xx }

// ClassOf classifies an answer's status. upstream marks a 5xx that the
// provider answered (after retries), as opposed to one of the gateway's own.
func ClassOf(status int, upstream bool) Class {
	switch {
	case status < 400:
		return Class2xx
	case status == http.StatusBadRequest:
		return Class400
	case status == http.StatusUnauthorized:
		return Class401
	case status == http.StatusForbidden:
		return Class403
	case status == http.StatusNotFound:
		return Class404
	case status == http.StatusTooManyRequests:
		return Class429
	case status < 500:
		return Class4xx
	case upstream:
		return ClassUpstream5xx
	default:
		return Class5xx
	}
}

// Refusal is why the authorizer refused a request of a real key. Each is a
// 401; they are counted apart because a wrong secret for a real kid is what
// a leaked or guessed kid looks like (the auth_failures anomaly).
type Refusal uint8

// The refusals counted per key.
const (
	NoRefusal Refusal = iota
	RefusedWrongSecret
	RefusedRevoked
	RefusedDisabled
	RefusedExpired
	RefusedWrongKind
	RefusedWorkspaceDisabled
	NumRefusals
)

var refusalNames = [NumRefusals]string{"", "wrong_secret", "revoked", "disabled", "expired", "wrong_kind", "workspace_disabled"}

// String is the refusal's name on the wire and in storage.
func (r Refusal) String() string {
	if r >= NumRefusals {
		return "unknown"
	}
	return refusalNames[r]
}

// Event is one answered request: what the proxy (or the management
// function, or the authorizer for a refusal) records once the client has
// its answer.
type Event struct {
	Time        time.Time
	KID         string
	WorkspaceID string
	// Route is "POST /chat/completions" and so on; Provider and Model are
	// empty where the request never got that far.
	Route, Provider, Model string
	Status                 int
	Class                  Class
	// Refusal is set on a request the authorizer refused.
	Refusal Refusal
	// Tokens as the provider reported them, or as the proxy estimated
	// them for a stream cut off before its usage chunk.
	PromptTokens, CompletionTokens, CachedTokens int64
	// CostMicroUSD is the request's cost in millionths of a dollar,
	// from the registry's prices; never a float, since money adds up.
	CostMicroUSD int64
	Latency      time.Duration
	Streamed     bool
	// Code is the error code answered (rate_limit_exceeded, …), for the
	// sample of recent failures; empty on success.
	Code string
	// Client is the caller's address cut to its network (ClientNetwork):
	// enough to tell sources apart, not to find a person.
	Client string
}

// ClientNetwork cuts an address to its /24 (IPv4) or /48 (IPv6) network,
// as the sample of recent failures keeps it; anything else is dropped.
func ClientNetwork(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	bits := 48
	if ip.Is4() || ip.Is4In6() {
		ip, bits = ip.Unmap(), 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// Sample is one failure kept in its key's sample of recent failures:
// metadata only, never a request's body.
type Sample struct {
	Time             time.Time `json:"time"`
	Route            string    `json:"route"`
	Model            string    `json:"model,omitempty"`
	Provider         string    `json:"provider,omitempty"`
	Status           int       `json:"status"`
	Class            string    `json:"class"`
	Code             string    `json:"code,omitempty"`
	LatencyMS        int64     `json:"latency_ms"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	// Client is the caller's network (/24 or /48), not its address.
	Client string `json:"client,omitempty"`
}
