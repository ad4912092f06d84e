package main

import (
	"strings"
	"testing"
)

const (
	config  = `{"config":{"protocol_version":"v1.0.0","go_version":"go1.26.8"}}`
	stdlib  = `{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"Serve"}]}}`
	dep     = `{"finding":{"osv":"GO-2026-0002","fixed_version":"v1.45.0","trace":[{"module":"go.opentelemetry.io/otel","version":"v1.44.0","package":"x","function":"Export"}]}}`
	onlyMod = `{"finding":{"osv":"GO-2026-0003","fixed_version":"v2.0.0","trace":[{"module":"example.com/unused","version":"v1.0.0"}]}}`
)

func TestGate(t *testing.T) {
	for name, tc := range map[string]struct {
		in     string
		strict bool
		code   int
		says   string
	}{
		"clean":                         {in: config, code: 0, says: "0 reached vulnerabilities in dependencies, 0 in the standard library"},
		"standard library only":         {in: config + stdlib, code: 0, says: "GO-2026-0001, fixed in go1.26.9 (this build: go1.26.8)"},
		"standard library, strict":      {in: config + stdlib, strict: true, code: 1, says: "GO-2026-0001"},
		"a dependency fails":            {in: config + stdlib + dep, code: 1, says: "GO-2026-0002 in go.opentelemetry.io/otel@v1.44.0, fixed in v1.45.0"},
		"a module never called is fine": {in: config + onlyMod, code: 0, says: "0 reached vulnerabilities in dependencies"},
	} {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			code, err := gate(strings.NewReader(tc.in), &out, tc.strict)
			if err != nil || code != tc.code || !strings.Contains(out.String(), tc.says) {
				t.Errorf("gate = %d, %v; want %d\n%s\nwant it to say %q", code, err, tc.code, out.String(), tc.says)
			}
		})
	}
	for _, bad := range []string{"", "not json", `{"finding":`} {
		if _, err := gate(strings.NewReader(bad), &strings.Builder{}, false); err == nil {
			t.Errorf("gate(%q): no error", bad)
		}
	}
}
