package devstack

import (
	"strings"
	"testing"
)

// The local stack reads the functions' settings with the same code as a
// deployed function: a malformed one stops it, naming the variable.
func TestLocalFunctionsRefuseAMalformedSetting(t *testing.T) {
	_, err := LocalFunctions(Env{Tables: Tables, Getenv: func(name string) string {
		if name == "AUTH_STORE_TIMEOUT_SECONDS" {
			return "abc"
		}
		return ""
	}})
	if err == nil || !strings.Contains(err.Error(), `AUTH_STORE_TIMEOUT_SECONDS="abc"`) {
		t.Errorf("got %v, want the malformed setting named", err)
	}
}
