// Package browser starts headless Chromium (Debian's chromium, which make
// installs) through chromedp for the dashboard's browser tests and make
// bench, and records what the page must never produce: console errors,
// uncaught exceptions, resources the CSP blocked or that failed to load.
package browser
