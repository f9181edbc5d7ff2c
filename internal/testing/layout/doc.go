// Package layout holds tests of the repository's shape rather than of its
// behaviour: what ships in a Lambda, what the domain may import, and what may
// be committed. It has no code of its own.
package layout
