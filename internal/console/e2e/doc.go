// Package e2e tests the web console in a real browser: TestConsole starts the whole local
// stack and runs console.mjs, which drives Debian's Chromium through npm's playwright-core
// (pinned in package.json and package-lock.json; `npm ci` here installs it). Screenshots are
// kept in .data/console-e2e. See docs/CONSOLE.md.
package e2e
