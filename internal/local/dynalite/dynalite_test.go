package dynalite_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/syncbuf"
)

// TestSurvivesAHalfSentRequest: a client that gives up in the middle of
// sending a request (a deadline firing, a test's proxy cancelled) must not
// take the server down, as it does plain dynalite, with every test after it.
func TestSurvivesAHalfSentRequest(t *testing.T) {
	ctx := context.Background()
	var out syncbuf.Buffer
	srv, err := dynalite.Start(ctx, dynalite.Config{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	u, err := url.Parse(srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: "+u.Host+"\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"+
			"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{\"Lim")
		time.Sleep(50 * time.Millisecond)
		conn.Close()
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case <-srv.Exited():
		t.Fatalf("dynalite exited after a half-sent request:\n%s", out.String())
	default:
	}
	if _, err := dynalite.NewClient(srv.Endpoint()).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite no longer answers: %v\n%s", err, out.String())
	}
}
