// Package gateway holds the domain of the AI-gateway edge: workspaces, API key
// records, their limits and states, and the one error type whose codes every
// layer answers with (docs/architecture.md §4).
//
// # Errors
//
// One way to build an error a client may see, and one way to look inside an
// error, so that a reader never wonders whether two forms differ:
//
//   - Errorf(code, format, args...) when the client needs only the code and
//     a sentence;
//   - an &Error{Code, Param, Message, Err} literal when it also names the
//     request field at fault (Param) or carries an internal cause (Err);
//   - Internal(err) and Unavailable(err) for a failure of our own or of a
//     dependency, whose cause is logged and never sent.
//
// Anything else is wrapped with the step that failed, fmt.Errorf("get key
// %s: %w", kid, err), and reaches a client as an internal error.
// To read an error, use ErrorCode(err) for its code and errors.AsType for
// any other type in its chain (errors.Is for a sentinel); never a type
// assertion, a type switch or errors.As with a pointer variable.
//
// It imports no infrastructure. Adapters such as pkg/adapter/dynamo implement the
// interfaces declared here; the Lambda handlers depend only on those interfaces.
package gateway
