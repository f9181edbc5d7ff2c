// Package dashboard serves the web dashboard (DESIGN.md §11): one page and
// its assets, bundled from web/ by cmd/dashbuild at build time and embedded
// here, so the management function serves them with no other store and the
// page works offline against make dev.
//
// The page holds no secret and reads nothing by itself: the person pastes
// a management key, and every figure comes from the management API called
// with it. That is why these routes need no authorizer.
package dashboard
