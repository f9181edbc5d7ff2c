package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/iampattern"
)

// dynamoRecorder stands between one function's binary and DynamoDB and
// notes every action it takes on every table or index, as IAM names them
// ("dynamodb:Query KeysTable/index/by_workspace"), so the test can hold the
// calls the binaries really make against the policies template.yaml grants.
type dynamoRecorder struct {
	proxy *httputil.ReverseProxy
	// logical maps a table name to its logical id in template.yaml.
	logical map[string]string
	mu      sync.Mutex
	seen    map[string]bool
}

// newDynamoRecorder returns a recorder in front of endpoint and its URL.
func newDynamoRecorder(t *testing.T, endpoint string, tables dynamo.Tables) (*dynamoRecorder, string) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	r := &dynamoRecorder{proxy: httputil.NewSingleHostReverseProxy(target), logical: map[string]string{}, seen: map[string]bool{}}
	for _, def := range tables.Definitions() {
		r.logical[*def.Create.TableName] = def.Role + "Table"
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *dynamoRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		TableName    string
		IndexName    string
		RequestItems map[string]json.RawMessage
	}
	_ = json.Unmarshal(body, &in)
	_, op, _ := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
	var resources []string
	if in.TableName != "" {
		res := r.name(in.TableName)
		if in.IndexName != "" {
			res += "/index/" + in.IndexName
		}
		resources = append(resources, res)
	}
	for table := range in.RequestItems {
		resources = append(resources, r.name(table))
	}
	r.mu.Lock()
	for _, res := range resources {
		r.seen["dynamodb:"+op+" "+res] = true
	}
	r.mu.Unlock()
	r.proxy.ServeHTTP(w, req)
}

func (r *dynamoRecorder) name(table string) string {
	if id, ok := r.logical[table]; ok {
		return id
	}
	return "unknown table " + table
}

// calls returns what the function did, sorted.
func (r *dynamoRecorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.seen))
	for c := range r.seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

var subIndexARN = regexp.MustCompile(`^\$\{(\w+)\.Arn\}(/index/[\w*.-]+)$`)

// granted returns the DynamoDB actions function fnID may take, as
// "dynamodb:Action Resource" with Resource a table's logical id, optionally
// followed by /index/name (or /index/*).
func granted(t *testing.T, tpl *samtemplate.Template, fnID string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, st := range allowed(t, tpl, fnID) {
		for _, action := range st.Actions {
			if !strings.HasPrefix(action, "dynamodb:") {
				continue
			}
			for _, res := range st.Resources {
				if id, ok := samtemplate.RefTarget(res); ok {
					out[action+" "+id] = true
					continue
				}
				if sub, ok := res.(samtemplate.Intrinsic); ok && sub.Name == "Fn::Sub" {
					s, _ := sub.Value.(string)
					if m := subIndexARN.FindStringSubmatch(s); m != nil {
						out[action+" "+m[1]+m[2]] = true
					}
				}
			}
		}
	}
	return out
}

// allowed returns the Allow statements of function fnID's policies.
func allowed(t *testing.T, tpl *samtemplate.Template, fnID string) []samtemplate.Statement {
	t.Helper()
	sts, err := tpl.Statements(fnID)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(sts, func(st samtemplate.Statement) bool { return st.Effect != "Allow" })
}

// checkSecretsIAM fails the test for every secret the function read that
// its policy does not let it read in a stack named stackName.
func checkSecretsIAM(t *testing.T, tpl *samtemplate.Template, fnID, stackName string, names []string) {
	t.Helper()
	vars := strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", "us-east-1",
		"${AWS::AccountId}", "111122223333", "${AWS::StackName}", stackName)
	var patterns []string
	for _, st := range allowed(t, tpl, fnID) {
		if !slices.Contains(st.Actions, "secretsmanager:GetSecretValue") {
			continue
		}
		for _, res := range st.Resources {
			if sub, ok := res.(samtemplate.Intrinsic); ok && sub.Name == "Fn::Sub" {
				s, _ := sub.Value.(string)
				patterns = append(patterns, vars.Replace(s))
			}
		}
	}
	for _, name := range names {
		// Secrets Manager appends six random characters to a secret's ARN.
		arn := "arn:aws:secretsmanager:us-east-1:111122223333:secret:" + name + "-AbCdEf"
		if !slices.ContainsFunc(patterns, func(p string) bool { return iampattern.Match(p, arn) }) {
			t.Errorf("%s reads secret %s, which template.yaml does not grant it (%v)", fnID, name, patterns)
		}
	}
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// allows reports whether the grants cover call, with an index wildcard.
func allows(grants map[string]bool, call string) bool {
	if grants[call] {
		return true
	}
	if base, _, ok := strings.Cut(call, "/index/"); ok {
		return grants[base+"/index/*"]
	}
	return false
}

// checkIAM fails the test for every DynamoDB call a binary made that its
// function's policy in template.yaml does not allow: in AWS that call would
// be AccessDenied.
func checkIAM(t *testing.T, tpl *samtemplate.Template, recorders map[string]*dynamoRecorder) {
	t.Helper()
	for fnID, rec := range recorders {
		calls := rec.calls()
		if len(calls) == 0 {
			t.Errorf("%s made no DynamoDB call through its recorder", fnID)
		}
		grants := granted(t, tpl, fnID)
		for _, c := range calls {
			if !allows(grants, c) {
				t.Errorf("%s calls %s, which template.yaml does not grant it", fnID, c)
			}
		}
		t.Logf("%s: %s", fnID, strings.Join(calls, ", "))
	}
}
