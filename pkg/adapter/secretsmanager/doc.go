// Package secretsmanager adapts AWS Secrets Manager to the proxy's
// credential source: each provider's API key is the plain-text value of the
// secret the registry names, read once per container and never logged.
package secretsmanager
