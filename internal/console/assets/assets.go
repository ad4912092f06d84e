// Package assets is the web console's page: plain ES modules, CSS and one HTML file, embedded
// in the gateway's binary. No build step, no CDN, no web fonts: a cluster (or this machine) may
// have no internet, and what the browser runs is exactly what is in this folder.
package assets

import "embed"

// FS holds index.html, the modules (*.js) and the style sheet.
//
//go:embed index.html *.js *.css
var FS embed.FS
