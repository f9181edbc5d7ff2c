package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorBodyShape(t *testing.T) {
	err := fmt.Errorf("create key: %w", &Error{Code: CodeValidationError, Message: "name is required.", Param: "name"})
	var body map[string]any
	if e := json.Unmarshal(MarshalErrorBody(err, "req-1"), &body); e != nil {
		t.Fatal(e)
	}
	inner := body["error"].(map[string]any)
	if inner["type"] != TypeInvalidRequest || inner["code"] != "validation_error" || inner["param"] != "name" ||
		inner["message"] != "name is required." || body["request_id"] != "req-1" {
		t.Errorf("body = %v", body)
	}
	if got := HTTPStatus(ErrorCode(err)); got != 400 {
		t.Errorf("status = %d, want 400", got)
	}
}

func TestInternalDetailNeverReachesTheClient(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.5:443: table aistats-keys")
	for _, err := range []error{cause, Internal(cause), Unavailable(cause)} {
		body := string(MarshalErrorBody(err, "r"))
		if strings.Contains(body, "10.0.0.5") || strings.Contains(body, "aistats-keys") {
			t.Errorf("body %s leaks the internal cause", body)
		}
		if !strings.Contains(body, `"param":null`) {
			t.Errorf("body %s lacks param null", body)
		}
	}
	if ErrorCode(cause) != CodeInternalError || HTTPStatus(ErrorCode(Unavailable(cause))) != 503 {
		t.Error("plain errors must be internal, unavailability 503")
	}
}

func TestEveryCodeHasAStatusAndType(t *testing.T) {
	for code, info := range codeTable {
		if info.status < 400 || info.errType == "" {
			t.Errorf("code %s maps to %d %q", code, info.status, info.errType)
		}
	}
	if HTTPStatus("unknown") != 500 || ErrorType("unknown") != TypeAPI {
		t.Error("unknown codes must be 500 api_error")
	}
}

func TestValidateWorkspaceID(t *testing.T) {
	for id, valid := range map[string]bool{
		"acme": true, "team-2": true, "a_b": true, "0": true, strings.Repeat("a", MaxWorkspaceIDLength): true,
		"": false, "Acme": false, "-acme": false, "acme corp": false, "acme/x": false, strings.Repeat("a", MaxWorkspaceIDLength+1): false,
	} {
		if err := ValidateWorkspaceID(id); (err == nil) != valid {
			t.Errorf("ValidateWorkspaceID(%q) = %v, want valid %v", id, err, valid)
		}
	}
}
