package secretsmanagertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Server answers GetSecretValue from a fixed set of plain-text secrets.
type Server struct {
	// URL is the endpoint to give the SDK.
	URL string

	secrets map[string]string
	mu      sync.Mutex
	asked   []string
	// throttle, while set, answers every call with ThrottlingException.
	throttle bool
}

// NewServer serves secrets (name → value) until the test ends.
func NewServer(t testing.TB, secrets map[string]string) *Server {
	t.Helper()
	s := &Server{secrets: secrets}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Throttle makes every call fail with ThrottlingException while on is set.
func (s *Server) Throttle(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = on
}

// Asked returns the SecretId of every call so far, in order.
func (s *Server) Asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(typ, msg string) {
		w.WriteHeader(http.StatusBadRequest)
		out, _ := json.Marshal(map[string]string{"__type": typ, "message": msg})
		_, _ = w.Write(out)
	}
	if target := r.Header.Get("X-Amz-Target"); target != "secretsmanager.GetSecretValue" {
		fail("InvalidRequestException", "this test server answers GetSecretValue only, not "+target)
		return
	}
	var in struct{ SecretId string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretId == "" {
		fail("InvalidParameterException", "SecretId is required")
		return
	}
	s.mu.Lock()
	s.asked = append(s.asked, in.SecretId)
	throttle := s.throttle
	value, ok := s.secrets[in.SecretId]
	s.mu.Unlock()
	switch {
	case throttle:
		fail("ThrottlingException", "Rate exceeded")
	case !ok:
		fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	default:
		out, _ := json.Marshal(map[string]any{
			"ARN":  "arn:aws:secretsmanager:us-east-1:111122223333:secret:" + in.SecretId + "-AbCdEf",
			"Name": in.SecretId, "SecretString": value, "VersionId": "v1",
		})
		_, _ = w.Write(out)
	}
}
