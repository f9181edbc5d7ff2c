package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/handler/management"

	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// TestBootstrapCommandOutputWorks runs the stack's BootstrapCommand output,
// the first thing an operator pastes after sam deploy, in a shell as written,
// with the stack's table names filled in and the AWS SDK pointed at dynalite
// by AWS_ENDPOINT_URL_DYNAMODB: it must create the workspace and print a
// working management key.
func TestBootstrapCommandOutputWorks(t *testing.T) {
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := samtemplate.Lookup(tpl.Outputs, "BootstrapCommand", "Value")
	sub, ok := out.(samtemplate.Intrinsic)
	command, _ := sub.Value.(string)
	if !ok || sub.Name != "Fn::Sub" || command == "" {
		t.Fatalf("BootstrapCommand is %#v, want a !Sub string", out)
	}
	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	command = strings.NewReplacer(
		"${WorkspacesTable}", tables.Workspaces, "${KeysTable}", tables.Keys, "${CountersTable}", tables.Counters,
		"${UsageTable}", tables.Usage, "${AuditTable}", tables.Audit, "${FindingsTable}", tables.Findings, "${AWS::Region}", "us-east-1",
	).Replace(command)
	if strings.Contains(command, "${") {
		t.Fatalf("BootstrapCommand refers to something this test does not fill in: %s", command)
	}

	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "aistats"), ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", command)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_ENDPOINT_URL_DYNAMODB="+dynamotest.Endpoint(t), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("the BootstrapCommand failed: %v\n%s\n%s", err, stdout, stderr.String())
	}
	// The last JSON document printed is the management key.
	text := string(stdout)
	var mk struct {
		KID, Key string
		Scopes   []string
	}
	if err := json.Unmarshal([]byte(text[strings.LastIndex(text, "\n{")+1:]), &mk); err != nil {
		t.Fatalf("no management key in the output: %v\n%s", err, text)
	}
	tok, err := keyformat.Parse(mk.Key)
	if err != nil || tok.KID != mk.KID || len(mk.Scopes) != len(management.AllScopes) {
		t.Fatalf("management key %+v does not parse (%v) or lacks scopes", mk, err)
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	k, err := store.GetKey(context.Background(), mk.KID)
	if err != nil || k.WorkspaceID != "my-team" {
		t.Errorf("the key %s is not in workspace my-team: %+v, %v", mk.KID, k, err)
	}
}
