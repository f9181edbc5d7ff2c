package management

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// LeakReportActor is the actor audited when a leak report revokes a key.
const LeakReportActor = "leak-report"

// LeakReportsPerMinute is how many unsigned reports one source (an IPv4
// address or an IPv6 /64) may send in a UTC minute. The route needs no key,
// so this is what keeps it from being a free oracle or a way to burn
// DynamoDB capacity; a person or a scanner reporting keys sends far fewer.
const LeakReportsPerMinute = 10

// DefaultLeakAnswerTime is the least time an unsigned report takes to
// answer: every answer waits until then, so the time does not tell a
// caller whether the key existed, verified or was revoked.
const DefaultLeakAnswerTime = time.Second

// Raiser raises a finding (alerts.Raiser).
type Raiser interface {
	Raise(ctx context.Context, f findings.Finding) (findings.Finding, bool, error)
}

// SourceLimiter counts requests per source (dynamo.Store.CountBySource).
type SourceLimiter interface {
	CountBySource(ctx context.Context, purpose, source string, limit int64) (bool, time.Duration, error)
}

// SourceKey is the source a request is limited by: an IPv4 address as it
// is, an IPv6 address cut to its /64 (one host usually holds a whole /64,
// so a limit per address would be no limit), anything else "unknown".
func SourceKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "unknown"
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// LeakOutcome is what a report found.
type LeakOutcome struct {
	// Verified is true when the text was one of our keys, secret included.
	Verified bool
	Key      gateway.Key
}

// RevokeLeaked revokes the key whose full text was reported leaked, if its
// format, checksum and secret verify, and audits it as LeakReportActor
// with how it was reported. A text that does not verify changes nothing. A
// key revoked already verifies and is left as it is.
func (s *Service) RevokeLeaked(ctx context.Context, text, via string) (LeakOutcome, error) {
	tok, err := keyformat.Parse(strings.TrimSpace(text))
	if err != nil {
		return LeakOutcome{}, nil
	}
	k, err := s.store.GetKey(ctx, tok.KID)
	if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
		return LeakOutcome{}, nil
	}
	if err != nil {
		return LeakOutcome{}, err
	}
	if k.Kind != tok.Kind || !keyformat.Verify(tok, k.SecretHash) {
		return LeakOutcome{}, nil
	}
	if k.Status != gateway.KeyRevoked {
		if k, err = s.store.RevokeKey(ctx, k.KID); err != nil {
			return LeakOutcome{}, err
		}
		s.audit(ctx, Actor{KID: LeakReportActor, WorkspaceID: k.WorkspaceID}, "key.revoked", k.KID,
			map[string]any{"kind": string(k.Kind), "reason": "leaked_key_report", "via": via})
	}
	return LeakOutcome{Verified: true, Key: k}, nil
}

// leakFinding is the finding a verified report raises.
func leakFinding(k gateway.Key, via string, now time.Time) findings.Finding {
	return findings.Finding{
		WorkspaceID: k.WorkspaceID, KID: k.KID, Type: findings.LeakedKey, Severity: "high",
		WindowStart: now, WindowEnd: now, Observed: 1, CreatedAt: now,
		Sentence: fmt.Sprintf("Key %s was reported leaked (%s) and has been revoked; issue a replacement.", k.KID, via),
	}
}

// reportLeak revokes a verified key and raises its finding. A failure to
// raise is logged, not returned: the key is revoked, which is what the
// reporter needed.
func (h *Handler) reportLeak(ctx context.Context, requestID, text, via string) (bool, error) {
	out, err := h.svc.RevokeLeaked(ctx, text, via)
	if err != nil || !out.Verified {
		return false, err
	}
	h.log.Info("leaked key revoked", "request_id", requestID, "kid", out.Key.KID, "workspace", out.Key.WorkspaceID, "via", via)
	if h.raiser != nil {
		if _, _, err := h.raiser.Raise(ctx, leakFinding(out.Key, via, h.now().UTC())); err != nil {
			h.log.Error("raise leaked_key finding", "request_id", requestID, "kid", out.Key.KID, "workspace", out.Key.WorkspaceID, "error", err.Error())
		}
	}
	return true, nil
}

// handleLeakReport serves POST /v1/security/report-leaked-key, the one
// route with no authorizer. A request signed by GitHub's secret scanning
// (github.go) is answered as GitHub expects; any other is limited per
// source and answered the same, 202, after the same least time, whether
// or not the key existed, verified or was revoked.
func (h *Handler) handleLeakReport(ctx context.Context, req events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	start := h.now()
	requestID := req.RequestContext.RequestID
	headers := map[string]string{"x-request-id": requestID}
	source := SourceKey(req.RequestContext.Identity.SourceIP)
	signed := header(req, GitHubSignatureHeader) != ""
	if signed && h.githubVerified(req) {
		return h.githubReport(ctx, req, headers, start)
	}
	status, retryAfter, err := h.unsignedReport(ctx, req, source, signed)
	if retryAfter == 0 {
		// Every answer past the limit takes the same least time.
		waitUntil(ctx, start.Add(h.leakAnswerTime), h.now)
	}
	if err != nil {
		if retryAfter > 0 {
			headers["Retry-After"] = fmt.Sprint(retryAfter)
		}
		resp := errorAnswer(err, headers, requestID)
		status = resp.StatusCode
		h.log.Log(ctx, levelFor(status), "leak report", "request_id", requestID, "source", source, "status", status,
			"code", string(gateway.ErrorCode(err)), "error", err.Error())
		return resp
	}
	h.log.Info("leak report", "request_id", requestID, "source", source, "status", status)
	headers["Content-Type"] = "application/json"
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: `{"data":{"status":"received"}}`}
}

// unsignedReport counts the report against its source, then revokes the
// key if it verifies. It answers a status, or an error and, for a 429, the
// seconds to wait.
func (h *Handler) unsignedReport(ctx context.Context, req events.APIGatewayProxyRequest, source string, badSignature bool) (int, int64, error) {
	if h.sources == nil {
		return 0, 0, gateway.Internal(errNotConfigured("source limiter"))
	}
	ok, wait, err := h.sources.CountBySource(ctx, "leak-report", source, LeakReportsPerMinute)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		secs := max(int64((wait+time.Second-1)/time.Second), 1)
		return 0, secs, gateway.Errorf(gateway.CodeRateLimitExceeded,
			"Too many leak reports from this address: at most %d a minute. Retry after %d seconds.", LeakReportsPerMinute, secs)
	}
	if badSignature {
		return 0, 0, gateway.Errorf(gateway.CodeInvalidSignature, "The GitHub secret scanning signature does not verify against the configured public keys.")
	}
	var in struct {
		Key *string `json:"key"`
	}
	if err := decodeStrict(req, &in); err != nil {
		return 0, 0, err
	}
	if in.Key == nil || strings.TrimSpace(*in.Key) == "" {
		return 0, 0, invalid("key", "key is required: the full text of the leaked key.")
	}
	if len(*in.Key) > 1024 {
		return 0, 0, invalid("key", "key is at most 1024 characters.")
	}
	if _, err := h.reportLeak(ctx, req.RequestContext.RequestID, *in.Key, "report"); err != nil {
		return 0, 0, err
	}
	return 202, 0, nil
}

func errorAnswer(err error, headers map[string]string, requestID string) events.APIGatewayProxyResponse {
	return authcontext.ErrorResponse(err, headers, requestID)
}

// waitUntil sleeps until t by the handler's clock, or until ctx ends.
func waitUntil(ctx context.Context, t time.Time, now func() time.Time) {
	d := t.Sub(now())
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
