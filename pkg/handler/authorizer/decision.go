package authorizer

import (
	"sync/atomic"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// outcome is what the authorizer answers; each renders differently
// (response.go) and is counted under its own metric.
type outcome uint8

const (
	// outcomeAllow lets the integration run.
	outcomeAllow outcome = iota + 1
	// outcomeDeny refuses with a 401 whose reason the Deny's context carries.
	outcomeDeny
	// outcomeRateLimited allows, marked so the integration answers 429 at
	// once with our headers.
	outcomeRateLimited
)

// String is the outcome as logged.
func (o outcome) String() string {
	switch o {
	case outcomeAllow:
		return "allow"
	case outcomeDeny:
		return "deny"
	case outcomeRateLimited:
		return "rate_limited"
	}
	return "unknown"
}

// metric names the EMF metric counted for the outcome.
func (o outcome) metric() string {
	switch o {
	case outcomeAllow:
		return "Allowed"
	case outcomeDeny:
		return "Denied"
	case outcomeRateLimited:
		return "RateLimited"
	}
	return "Unknown"
}

// decision is what the handler concluded.
type decision struct {
	outcome outcome
	// code and message are a Deny's reason; code is also logged for a
	// rate-limited request.
	code    gateway.Code
	message string
	// context is what an Allow tells the integration.
	context authcontext.Context
}

// denied is a Deny for code, with its standard message unless one is given.
// Every Deny is built here.
func denied(code gateway.Code, message string) decision {
	if message == "" {
		message = refusalMessages[code]
	}
	return decision{outcome: outcomeDeny, code: code, message: message}
}

// request carries one invocation's facts through the handler. kid and
// workspace are filled in as soon as they are known, so that every log
// line, errors included, names them.
type request struct {
	id        string
	now       time.Time
	arn       methodARN
	token     keyformat.Token
	hash      []byte
	kid       string
	workspace string
	calls     atomic.Int32
	// owner and refusal are set when a real key is refused: the refusal
	// is then counted in the key's usage under its workspace (owner),
	// which is not told to a caller who did not prove the secret.
	owner   string
	refusal usage.Refusal
	// writer is the request's writer of counting writes, and counted the
	// key's write that admitted it, to give back if its workspace refuses
	// it (tickets.go).
	writer  *writer
	counted *gateway.Admission
	// deadline is the invocation's (zero: none), which withdrawals must
	// not run past; waitRetry waits for the try of the writer's kept
	// withdrawals that runs beside the request (tickets.go).
	deadline  time.Time
	waitRetry func()
	// free is set on a route that spends no budget (spendsNothing).
	free bool
}

// refused marks the request as a refusal of a real key of workspace owner.
func (r *request) refused(owner string, why usage.Refusal) {
	r.owner, r.refusal = owner, why
}
