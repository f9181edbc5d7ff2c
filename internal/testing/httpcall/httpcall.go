package httpcall

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Response is an answer, its body decoded when it is a JSON object.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Bearer is the Authorization value for key, or "" for no key.
func Bearer(key string) string {
	if key == "" {
		return ""
	}
	return "Bearer " + key
}

// Do sends method url with body (sent as JSON when not empty) and, unless
// empty, the Authorization value. A nil client is http.DefaultClient. A
// call that gets no answer fails the test.
func Do(t testing.TB, client *http.Client, method, url, authorization, body string) Response {
	t.Helper()
	header := http.Header{}
	if authorization != "" {
		header.Set("Authorization", authorization)
	}
	return DoWithHeaders(t, client, method, url, header, body)
}

// DoWithHeaders is Do with any request headers: a key in x-api-key, as the
// Anthropic SDKs send it, or an anthropic-version.
func DoWithHeaders(t testing.TB, client *http.Client, method, url string, header http.Header, body string) Response {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer to %s %s: %v", method, url, err)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body) // not every answer is a JSON object
	return out
}

// ErrorCode is the code of an error answer in the shape of docs/architecture.md §4,
// or "" for any other answer.
func (r Response) ErrorCode() string {
	e, _ := r.Body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}
