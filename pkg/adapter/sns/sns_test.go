package sns_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/aistats/edge/pkg/adapter/sns"
)

// A real local HTTP server answers as SNS does, so the SDK's own request
// is what is checked: the topic, the message and the attribute.
func TestPublishSendsTheMessageToTheTopic(t *testing.T) {
	var mu sync.Mutex
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = map[string]string{}
		for k, v := range r.PostForm {
			got[k] = v[0]
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`))
	}))
	defer srv.Close()
	client := awssns.New(awssns.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{},
	})
	topic := sns.Topic{Client: client, ARN: "arn:aws:sns:eu-west-1:123456789012:findings"}
	if err := topic.Publish(context.Background(), strings.Repeat("s", 150), "leaked_key", []byte(`{"id":"f1"}`)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["Action"] != "Publish" || got["TopicArn"] != topic.ARN || got["Message"] != `{"id":"f1"}` || len(got["Subject"]) != 100 {
		t.Errorf("SNS got %v", got)
	}
	if got["MessageAttributes.entry.1.Name"] != "type" || got["MessageAttributes.entry.1.Value.StringValue"] != "leaked_key" {
		t.Errorf("message attribute: %v", got)
	}
}
