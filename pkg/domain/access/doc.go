// Package access decides whether a key may use a model: the workspace plan's
// allowed providers and models intersected with the key's own allow-lists.
// Anything not allowed by both is refused; an empty plan allows nothing.
package access
