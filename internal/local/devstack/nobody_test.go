package devstack_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/httpcall"
)

// TestNothingFromARequestBodyIsStoredOrLogged is docs/architecture.md §6's
// rule, checked as DESIGN §9 asks: a unique marker goes in the body of a
// request on every inference route, streamed and not, then every item of
// every table and every log line is searched for it, after a detector run
// has rolled the usage up and looked for anomalies.
func TestNothingFromARequestBodyIsStoredOrLogged(t *testing.T) {
	running, _, logs, stop := startStackWithLogs(t, t.TempDir(), -1)
	defer stop()
	base, key := running.Credentials.BaseURL, running.Credentials.APIKey
	const marker = "zq7-marker-4f1c9a-do-not-store"
	bearer := http.Header{"Authorization": {httpcall.Bearer(key)}, "Content-Type": {"application/json"}}
	for _, c := range []struct{ path, body string }{
		{"/chat/completions", `{"model":"local/echo","messages":[{"role":"user","content":"` + marker + `"}]}`},
		{"/chat/completions", `{"model":"local/echo","stream":true,"messages":[{"role":"user","content":"` + marker + `"}]}`},
		{"/chat/completions", `{"model":"local/echo","messages":[{"role":"user","content":"call a tool"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string","description":"` + marker + `"}}}}}]}`},
		{"/embeddings", `{"model":"local/echo","input":"` + marker + `"}`},
		{"/messages", `{"model":"local/echo","max_tokens":16,"messages":[{"role":"user","content":"` + marker + `"}]}`},
		{"/messages", `{"model":"local/echo","max_tokens":16,"stream":true,"system":"` + marker + `","messages":[{"role":"user","content":"hi"}]}`},
		{"/responses", `{"model":"local/echo","input":"` + marker + `"}`},
		{"/responses", `{"model":"local/echo","stream":true,"input":"` + marker + `"}`},
		{"/moderations", `{"model":"local/echo","input":"` + marker + `"}`},
		{"/images/generations", `{"model":"local/echo","prompt":"` + marker + `"}`},
		{"/audio/speech", `{"model":"local/echo","input":"` + marker + `","voice":"alloy"}`},
		// A refused request too: a model that does not exist.
		{"/chat/completions", `{"model":"nope/x","messages":[{"role":"user","content":"` + marker + `"}]}`},
	} {
		r := httpcall.DoWithHeaders(t, nil, "POST", base+c.path, bearer, c.body)
		if r.Status >= 500 {
			t.Errorf("POST %s: %d %s", c.path, r.Status, r.Raw)
		}
	}
	upload := "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nlocal/echo\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n" + marker + "\r\n--b--\r\n"
	if r := httpcall.DoWithHeaders(t, nil, "POST", base+"/audio/transcriptions",
		http.Header{"Authorization": {httpcall.Bearer(key)}, "Content-Type": {"multipart/form-data; boundary=b"}}, upload); r.Status != 200 {
		t.Errorf("transcription: %d %s", r.Status, r.Raw)
	}

	client := dynalite.NewClient(running.DynamoDBEndpoint)
	det, err := devstack.LocalDetector(devstack.Env{Client: client, Tables: devstack.Tables, Logger: slog.New(slog.DiscardHandler), Now: running.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := det.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	tables := devstack.Tables
	items := 0
	for _, table := range []string{tables.Workspaces, tables.Keys, tables.Counters, tables.Usage, tables.Audit, tables.Findings} {
		p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				items++
				raw, _ := json.Marshal(it)
				if strings.Contains(string(raw), marker) {
					t.Errorf("table %s stores the marker: %s", table, raw)
				}
			}
		}
	}
	if items == 0 {
		t.Fatal("no items scanned: the search proves nothing")
	}
	if !strings.Contains(logs.String(), `"route":"POST /messages"`) {
		t.Fatal("the log has no line of the requests sent: the search proves nothing")
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, marker) {
			t.Errorf("a log line holds the marker: %s", line)
		}
	}
}
