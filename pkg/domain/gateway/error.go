package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code is a machine-readable error code, sent to clients as error.code.
type Code string

// The codes of docs/architecture.md §4. Each maps to one HTTP status and one error type in
// codeTable; adding a code means adding its row there.
const (
	CodeInvalidJSON     Code = "invalid_json"
	CodeValidationError Code = "validation_error"
	CodeModelRequired   Code = "model_required"
	// CodeUnsupportedRoute: the model's provider does not serve the route
	// (an OpenAI Responses call to a provider without that API).
	CodeUnsupportedRoute     Code = "unsupported_route"
	CodeInvalidCursor        Code = "invalid_cursor"
	CodeBodyTooLarge         Code = "body_too_large"
	CodeAlreadyExists        Code = "already_exists"
	CodeKeyNotActive         Code = "key_not_active"
	CodeAlreadyRotated       Code = "already_rotated"
	CodeMissingAuthorization Code = "missing_authorization"
	CodeInvalidKeyFormat     Code = "invalid_key_format"
	CodeInvalidKey           Code = "invalid_key"
	CodeKeyExpired           Code = "key_expired"
	CodeKeyDisabled          Code = "key_disabled"
	CodeKeyRevoked           Code = "key_revoked"
	CodeWorkspaceDisabled    Code = "workspace_disabled"
	CodeWrongKeyKind         Code = "wrong_key_kind"
	CodeInvalidSignature     Code = "invalid_signature"
	CodeModelNotAllowed      Code = "model_not_allowed"
	CodeProviderNotAllowed   Code = "provider_not_allowed"
	CodeInsufficientScope    Code = "insufficient_scope"
	CodeModelNotFound        Code = "model_not_found"
	CodeKeyNotFound          Code = "key_not_found"
	CodeWorkspaceNotFound    Code = "workspace_not_found"
	CodeNotFound             Code = "not_found"
	CodeRateLimitExceeded    Code = "rate_limit_exceeded"
	// CodeBudgetExceeded: a token or money budget cannot hold the request's
	// worst case (docs/architecture.md §5, "Budgets and token limits").
	CodeBudgetExceeded     Code = "budget_exceeded"
	CodeUpstreamError      Code = "upstream_error"
	CodeUpstreamTimeout    Code = "upstream_timeout"
	CodeServiceUnavailable Code = "service_unavailable"
	CodeInternalError      Code = "internal_error"
)

// Error types sent as error.type, chosen so OpenAI SDKs raise the matching
// typed exception.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeConflict       = "conflict_error"
	TypeRateLimit      = "rate_limit_error"
	// TypeInsufficientQuota is OpenAI's type for a spent quota, also a 429:
	// SDKs raise their RateLimitError, and the type tells it from a rate.
	TypeInsufficientQuota = "insufficient_quota"
	TypeUpstream          = "upstream_error"
	TypeAPI               = "api_error"
)

type codeInfo struct {
	status  int
	errType string
}

// codeTable is the single mapping from code to HTTP status and error type.
var codeTable = map[Code]codeInfo{
	CodeInvalidJSON:          {http.StatusBadRequest, TypeInvalidRequest},
	CodeValidationError:      {http.StatusBadRequest, TypeInvalidRequest},
	CodeModelRequired:        {http.StatusBadRequest, TypeInvalidRequest},
	CodeUnsupportedRoute:     {http.StatusBadRequest, TypeInvalidRequest},
	CodeInvalidCursor:        {http.StatusBadRequest, TypeInvalidRequest},
	CodeBodyTooLarge:         {http.StatusRequestEntityTooLarge, TypeInvalidRequest},
	CodeAlreadyExists:        {http.StatusConflict, TypeConflict},
	CodeKeyNotActive:         {http.StatusConflict, TypeConflict},
	CodeAlreadyRotated:       {http.StatusConflict, TypeConflict},
	CodeMissingAuthorization: {http.StatusUnauthorized, TypeAuthentication},
	CodeInvalidKeyFormat:     {http.StatusUnauthorized, TypeAuthentication},
	CodeInvalidKey:           {http.StatusUnauthorized, TypeAuthentication},
	CodeKeyExpired:           {http.StatusUnauthorized, TypeAuthentication},
	CodeKeyDisabled:          {http.StatusUnauthorized, TypeAuthentication},
	CodeKeyRevoked:           {http.StatusUnauthorized, TypeAuthentication},
	CodeWorkspaceDisabled:    {http.StatusUnauthorized, TypeAuthentication},
	CodeWrongKeyKind:         {http.StatusUnauthorized, TypeAuthentication},
	CodeInvalidSignature:     {http.StatusUnauthorized, TypeAuthentication},
	CodeModelNotAllowed:      {http.StatusForbidden, TypePermission},
	CodeProviderNotAllowed:   {http.StatusForbidden, TypePermission},
	CodeInsufficientScope:    {http.StatusForbidden, TypePermission},
	CodeModelNotFound:        {http.StatusNotFound, TypeNotFound},
	CodeKeyNotFound:          {http.StatusNotFound, TypeNotFound},
	CodeWorkspaceNotFound:    {http.StatusNotFound, TypeNotFound},
	CodeNotFound:             {http.StatusNotFound, TypeNotFound},
	CodeRateLimitExceeded:    {http.StatusTooManyRequests, TypeRateLimit},
	CodeBudgetExceeded:       {http.StatusTooManyRequests, TypeInsufficientQuota},
	CodeUpstreamError:        {http.StatusBadGateway, TypeUpstream},
	CodeUpstreamTimeout:      {http.StatusGatewayTimeout, TypeUpstream},
	CodeServiceUnavailable:   {http.StatusServiceUnavailable, TypeAPI},
	CodeInternalError:        {http.StatusInternalServerError, TypeAPI},
}

// Error is the one error type of the gateway. Message is the sentence a
// client sees; Err is the internal cause, which is logged but never sent.
type Error struct {
	Code    Code
	Message string
	// Param names the request field at fault, for validation errors.
	Param string
	// Err is the internal cause. It may name tables or endpoints, so it is
	// never part of a response.
	Err error
}

// Errorf returns an Error with a formatted client-facing message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an infrastructure failure: the client is told only that
// something went wrong on our side, the cause stays in the logs.
func Internal(err error) *Error {
	return &Error{Code: CodeInternalError, Message: "The gateway hit an internal error; try again.", Err: err}
}

// Unavailable wraps a failure of a dependency the request cannot do without
// (DynamoDB unreachable, throttled or too slow).
// ErrThrottled is in the chain of an unavailability that was the database
// refusing a call for rate (a partition over its write rate): the sign of a
// hot key that the authorizer spreads over shards (KeySharder).
var ErrThrottled = errors.New("throttled")

func Unavailable(err error) *Error {
	return &Error{Code: CodeServiceUnavailable, Message: "The service is temporarily unavailable; try again shortly.", Err: err}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of err, or CodeInternalError for errors that are not
// an *Error (and so were never meant for a client).
func ErrorCode(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeInternalError
}

// HTTPStatus returns the HTTP status for code; unknown codes are 500.
func HTTPStatus(code Code) int {
	if info, ok := codeTable[code]; ok {
		return info.status
	}
	return http.StatusInternalServerError
}

// ErrorType returns the OpenAI-style error type for code.
func ErrorType(code Code) string {
	if info, ok := codeTable[code]; ok {
		return info.errType
	}
	return TypeAPI
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error     ErrorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

// ErrorDetail is the OpenAI-compatible inner error object.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Code    Code    `json:"code"`
	Param   *string `json:"param"`
}

// NewErrorBody renders err for a client. Errors that are not an *Error become
// a plain internal error so that no internal detail leaks.
func NewErrorBody(err error, requestID string) ErrorBody {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		e = Internal(err)
	}
	body := ErrorBody{
		Error:     ErrorDetail{Message: e.Message, Type: ErrorType(e.Code), Code: e.Code},
		RequestID: requestID,
	}
	if e.Param != "" {
		param := e.Param
		body.Error.Param = &param
	}
	return body
}

// MarshalErrorBody is NewErrorBody encoded as JSON.
func MarshalErrorBody(err error, requestID string) []byte {
	b, _ := json.Marshal(NewErrorBody(err, requestID)) // a struct of strings cannot fail to encode
	return b
}
