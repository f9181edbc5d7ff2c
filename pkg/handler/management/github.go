package management

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// GitHub's secret scanning partner program POSTs what it found to our
// report route, signed: an ECDSA P-256 signature over SHA-256 of the raw
// body, base64 (ASN.1 DER), in Github-Public-Key-Signature, made with the
// key Github-Public-Key-Identifier names. Its public keys are published
// (PEM) at https://api.github.com/meta/public_keys/secret_scanning; the
// deployment configures them (GITHUB_SECRET_SCANNING_PUBLIC_KEYS), so
// the function fetches nothing at run time.
const (
	GitHubSignatureHeader = "Github-Public-Key-Signature"
	GitHubKeyIDHeader     = "Github-Public-Key-Identifier"
	// maxGitHubTokens bounds one report's work.
	maxGitHubTokens = 100
)

// ParseGitHubKeys reads every PEM "PUBLIC KEY" block of text as an ECDSA
// public key. Empty text is no keys (GitHub reports are then refused).
func ParseGitHubKeys(text string) ([]*ecdsa.PublicKey, error) {
	var keys []*ecdsa.PublicKey
	rest := []byte(strings.TrimSpace(text))
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("not PEM: want one or more -----BEGIN PUBLIC KEY----- blocks")
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", len(keys)+1, err)
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key %d is not an ECDSA key", len(keys)+1)
		}
		keys = append(keys, ec)
		rest = []byte(strings.TrimSpace(string(rest)))
	}
	return keys, nil
}

// githubVerified reports whether the request's signature verifies against
// one of the configured keys.
func (h *Handler) githubVerified(req events.APIGatewayProxyRequest) bool {
	sig, err := base64.StdEncoding.DecodeString(header(req, GitHubSignatureHeader))
	if err != nil || len(h.githubKeys) == 0 {
		return false
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return false
		}
	}
	digest := sha256.Sum256(body)
	for _, k := range h.githubKeys {
		if ecdsa.VerifyASN1(k, digest[:], sig) {
			return true
		}
	}
	return false
}

// gitHubMatch is one match GitHub sends.
type gitHubMatch struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// gitHubLabel is GitHub's expected answer for one match.
type gitHubLabel struct {
	TokenRaw  string `json:"token_raw"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// githubReport revokes every verified key of a signed report and answers
// GitHub with a label per token. GitHub is authenticated, so unlike the
// unsigned answer it is told which tokens were ours.
func (h *Handler) githubReport(ctx context.Context, req events.APIGatewayProxyRequest, headers map[string]string, start time.Time) events.APIGatewayProxyResponse {
	requestID := req.RequestContext.RequestID
	var matches []gitHubMatch
	body := req.Body
	if req.IsBase64Encoded {
		raw, _ := base64.StdEncoding.DecodeString(body)
		body = string(raw)
	}
	if err := json.Unmarshal([]byte(body), &matches); err != nil {
		return authcontext400(headers, requestID, "The body must be a JSON array of {token, type, url, source}.")
	}
	if len(matches) > maxGitHubTokens {
		return authcontext400(headers, requestID, fmt.Sprintf("At most %d tokens per report.", maxGitHubTokens))
	}
	labels := make([]gitHubLabel, 0, len(matches))
	for _, m := range matches {
		ours, err := h.reportLeak(ctx, requestID, m.Token, "github")
		if err != nil {
			// GitHub retries a failed delivery: fail it whole.
			resp := errorAnswer(err, headers, requestID)
			h.log.Log(ctx, levelFor(resp.StatusCode), "leak report", "request_id", requestID, "via", "github",
				"status", resp.StatusCode, "error", err.Error())
			return resp
		}
		label := "false_positive"
		if ours {
			label = "true_positive"
		}
		labels = append(labels, gitHubLabel{TokenRaw: m.Token, TokenType: m.Type, Label: label})
	}
	raw, _ := json.Marshal(labels)
	h.log.Info("leak report", "request_id", requestID, "via", "github", "tokens", len(matches), "status", 200,
		"latency_ms", float64(h.now().Sub(start).Microseconds())/1000)
	headers["Content-Type"] = "application/json"
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: headers, Body: string(raw)}
}

func authcontext400(headers map[string]string, requestID, message string) events.APIGatewayProxyResponse {
	return errorAnswer(&gateway.Error{Code: gateway.CodeInvalidJSON, Message: message}, headers, requestID)
}
