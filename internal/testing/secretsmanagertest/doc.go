// Package secretsmanagertest serves the AWS Secrets Manager wire protocol
// (AWS JSON 1.1, GetSecretValue only) over HTTP, so tests run the real SDK
// client, in-process or inside a built Lambda binary pointed at it with
// AWS_ENDPOINT_URL_SECRETS_MANAGER, and see which secrets it asked for.
package secretsmanagertest
