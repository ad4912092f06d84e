// Command ordersaga-vulngate reads govulncheck's JSON (`govulncheck -format json`) on stdin and
// decides what fails CI (`make vuln`): a vulnerability our code reaches in a module we depend on
// fails, since a go.mod bump fixes it; one in the standard library is reported with the Go
// release that fixes it, and fails only with -strict, since the toolchain is the machine's.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// message is the part of govulncheck's JSON stream the gate reads.
type message struct {
	Config *struct {
		GoVersion string `json:"go_version"`
	} `json:"config"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

// reached is one vulnerability that the code calls: where it is and what fixes it.
type reached struct{ module, version, fixed string }

func main() {
	strict := flag.Bool("strict", false, "fail on standard-library findings too")
	flag.Parse()
	code, err := gate(os.Stdin, os.Stdout, *strict)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordersaga-vulngate:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// gate reports the findings of in to out and returns the exit code: 0 when nothing fails, 1
// otherwise. Errors: a stream that is not govulncheck's JSON.
func gate(in io.Reader, out io.Writer, strict bool) (int, error) {
	dec := json.NewDecoder(in)
	goVersion := "?"
	found := map[string]reached{}
	seen := 0
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("not govulncheck's JSON output: %w", err)
		}
		seen++
		if m.Config != nil && m.Config.GoVersion != "" {
			goVersion = m.Config.GoVersion
		}
		// Only symbol-level findings (the trace ends in a function) are code that runs.
		if f := m.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			found[f.OSV] = reached{module: f.Trace[0].Module, version: f.Trace[0].Version, fixed: f.FixedVersion}
		}
	}
	if seen == 0 {
		return 0, errors.New("empty input: run govulncheck -format json")
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	failed, stdlib := 0, 0
	for _, id := range ids {
		r := found[id]
		if r.module == "stdlib" || r.module == "toolchain" {
			stdlib++
			fmt.Fprintf(out, "standard library: %s, fixed in go%s (this build: %s)\n", id, strings.TrimPrefix(r.fixed, "v"), goVersion)
			if strict {
				failed++
			}
			continue
		}
		failed++
		fmt.Fprintf(out, "dependency: %s in %s@%s, fixed in %s: bump it in go.mod\n", id, r.module, r.version, r.fixed)
	}
	fmt.Fprintf(out, "govulncheck: %d reached vulnerabilities in dependencies, %d in the standard library of %s\n", len(ids)-stdlib, stdlib, goVersion)
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}
