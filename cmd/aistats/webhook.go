package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

const webhookUsage = `usage: aistats webhook <set URL|get|delete> [--base-url URL]
       aistats workspace-settings <get|auto-disable on|off> [--base-url URL]

Calls the management API as the key in AISTATS_MANAGEMENT_KEY, at
--base-url (or AISTATS_BASE_URL), as the dashboard does:

  webhook set URL        PUT /v1/webhook: prints the signing secret, once
  webhook get            GET /v1/webhook: URL, creation, last delivery
  webhook delete         DELETE /v1/webhook
  workspace-settings get GET /v1/workspace
  workspace-settings auto-disable on|off   PATCH /v1/workspace
`

// runAPI runs the commands that go through the management API with a
// management key, not to DynamoDB: webhook and workspace settings belong to
// a workspace's own key holders, and the API checks their scopes.
func runAPI(ctx context.Context, group string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(group, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	baseURL := fs.String("base-url", os.Getenv("AISTATS_BASE_URL"), "")
	if len(args) == 0 {
		return usageError{webhookUsage}
	}
	verb, rest := args[0], args[1:]
	if err := fs.Parse(rest); err != nil {
		return usageError{err.Error() + "\n\n" + webhookUsage}
	}
	key := os.Getenv("AISTATS_MANAGEMENT_KEY")
	if *baseURL == "" || key == "" {
		return usageError{"set AISTATS_MANAGEMENT_KEY and --base-url (or AISTATS_BASE_URL)\n\n" + webhookUsage}
	}
	var method, path, body string
	switch {
	case group == "webhook" && verb == "set" && fs.NArg() == 1:
		b, _ := json.Marshal(map[string]string{"url": fs.Arg(0)})
		method, path, body = "PUT", "/webhook", string(b)
	case group == "webhook" && verb == "get" && fs.NArg() == 0:
		method, path = "GET", "/webhook"
	case group == "webhook" && verb == "delete" && fs.NArg() == 0:
		method, path = "DELETE", "/webhook"
	case group == "workspace-settings" && verb == "get" && fs.NArg() == 0:
		method, path = "GET", "/workspace"
	case group == "workspace-settings" && verb == "auto-disable" && fs.NArg() == 1 && (fs.Arg(0) == "on" || fs.Arg(0) == "off"):
		method, path, body = "PATCH", "/workspace", fmt.Sprintf(`{"auto_disable":%t}`, fs.Arg(0) == "on")
	default:
		return usageError{"unknown or incomplete command: " + group + " " + strings.Join(args, " ") + "\n\n" + webhookUsage}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(*baseURL, "/")+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNoContent {
		_, err := fmt.Fprintln(stdout, "done")
		return err
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return fmt.Errorf("%s %s answered %d: %.200s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 {
		if e, ok := v.(map[string]any)["error"].(map[string]any); ok {
			return fmt.Errorf("%s %s answered %d: %v (%v)", method, path, resp.StatusCode, e["message"], e["code"])
		}
		return fmt.Errorf("%s %s answered %d", method, path, resp.StatusCode)
	}
	return printJSON(stdout, v)
}
