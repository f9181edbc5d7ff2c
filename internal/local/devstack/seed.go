package devstack

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/management"
)

// DemoWorkspace is the workspace the local stack seeds.
const DemoWorkspace = "demo"

// Credentials are the values written to .dev/credentials.env.
type Credentials struct {
	BaseURL       string
	APIKey        string
	ManagementKey string
}

// Lines renders the credentials exactly as docs/architecture.md §9 specifies.
func (c Credentials) Lines() string {
	return "AISTATS_BASE_URL=" + c.BaseURL + "\n" +
		"AISTATS_API_KEY=" + c.APIKey + "\n" +
		"AISTATS_MANAGEMENT_KEY=" + c.ManagementKey + "\n"
}

// ReadCredentials parses a credentials file written by WriteCredentials.
func ReadCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, err
	}
	defer f.Close()
	var c Credentials
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), "=")
		switch name {
		case "AISTATS_BASE_URL":
			c.BaseURL = value
		case "AISTATS_API_KEY":
			c.APIKey = value
		case "AISTATS_MANAGEMENT_KEY":
			c.ManagementKey = value
		}
	}
	return c, sc.Err()
}

// WriteCredentials writes the file readable by its owner only: it holds keys.
func WriteCredentials(path string, c Credentials) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(c.Lines()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// seedStore is what seeding needs from the store.
type seedStore interface {
	gateway.KeyStore
	gateway.WorkspaceStore
}

// Seed makes sure the demo workspace exists and returns a usable inference
// and management key: the ones in previous, when they are still valid in
// the store, so that a restart keeps the same keys; new ones otherwise.
func Seed(ctx context.Context, store seedStore, previous Credentials) (apiKey, managementKey string, err error) {
	err = store.CreateWorkspace(ctx, gateway.Workspace{
		ID: DemoWorkspace, Name: "Demo",
		// The demo plan allows every provider in the registry.
		Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}},
	})
	if err != nil && gateway.ErrorCode(err) != gateway.CodeAlreadyExists {
		return "", "", fmt.Errorf("seed workspace: %w", err)
	}
	if _, err := store.SetWorkspaceStatus(ctx, DemoWorkspace, gateway.WorkspaceActive); err != nil {
		return "", "", fmt.Errorf("enable demo workspace: %w", err)
	}
	apiKey, err = reuseOrCreate(ctx, store, previous.APIKey, gateway.KindInference, "demo inference key", nil)
	if err != nil {
		return "", "", err
	}
	managementKey, err = reuseOrCreate(ctx, store, previous.ManagementKey, gateway.KindManagement, "demo management key", management.AllScopes)
	if err != nil {
		return "", "", err
	}
	return apiKey, managementKey, nil
}

func reuseOrCreate(ctx context.Context, store seedStore, text string, kind gateway.KeyKind, name string, scopes []string) (string, error) {
	if ok, err := stillValid(ctx, store, text, kind); err != nil {
		return "", err
	} else if ok {
		return text, nil
	}
	_, key, err := management.InsertKey(ctx, store, rand.Reader, gateway.Key{
		WorkspaceID: DemoWorkspace, Kind: kind, Name: name, Scopes: scopes,
	})
	if err != nil {
		return "", fmt.Errorf("seed %s: %w", name, err)
	}
	return key, nil
}

// stillValid reports whether text is a key of kind in the demo workspace
// that the store still accepts.
func stillValid(ctx context.Context, store seedStore, text string, kind gateway.KeyKind) (bool, error) {
	tok, err := keyformat.Parse(text)
	if err != nil || tok.Kind != kind {
		return false, nil
	}
	k, err := store.GetKey(ctx, tok.KID)
	if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check seeded key %s: %w", tok.KID, err)
	}
	return k.WorkspaceID == DemoWorkspace && k.Status == gateway.KeyActive &&
		keyformat.Verify(tok, k.SecretHash), nil
}
