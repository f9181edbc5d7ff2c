package sns

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// Client is the part of the SNS API a Topic uses.
type Client interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Topic publishes messages to one topic.
type Topic struct {
	Client Client
	ARN    string
}

// maxSubject is SNS's limit on an email subject.
const maxSubject = 100

// Publish sends one message: subject for email subscribers (cut to SNS's
// 100 characters), body as the message, and kind as the "type" message
// attribute so that a subscription can filter on it.
func (t Topic) Publish(ctx context.Context, subject, kind string, body []byte) error {
	if len(subject) > maxSubject {
		subject = subject[:maxSubject]
	}
	_, err := t.Client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(t.ARN),
		Subject:  aws.String(subject),
		Message:  aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"type": {DataType: aws.String("String"), StringValue: aws.String(kind)},
		},
	})
	if err != nil {
		return fmt.Errorf("publish to SNS: %w", err)
	}
	return nil
}
