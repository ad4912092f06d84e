// Command funcyaml writes the func.yaml that deploys one function of config/ with knative/func:
//
//	go run ./internal/manifests/funcyaml -function inventory > .func/stage/inventory/func.yaml
//
// The func.yaml is derived from the function's Knative Service in config/ (env, labels, scale,
// resources, probes), so the func path and the ko path deploy the same thing. The repository's
// root func.yaml is this command's output for the order function (a test keeps them equal).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ordersaga/ordersaga/internal/manifests"
)

func main() {
	name := flag.String("function", "", "function (Knative Service in config/) to describe")
	flag.Parse()
	if err := run(*name); err != nil {
		fmt.Fprintln(os.Stderr, "funcyaml:", err)
		os.Exit(1)
	}
}

func run(name string) error {
	if name == "" {
		return fmt.Errorf("-function is required")
	}
	root, err := manifests.ModuleRoot()
	if err != nil {
		return err
	}
	out, err := manifests.RootFuncYAML(filepath.Join(root, "config"), name)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
