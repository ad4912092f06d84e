// Command ordersaga-base assembles the functions' base image from this machine's CA certificates
// (internal/images.Base) and pushes it, one image per platform, to the repository given; it
// prints the reference by digest for KO_DEFAULTBASEIMAGE. `make images` runs it against a local
// registry.
//
//	ordersaga-base [-certs FILE] [-platforms linux/amd64,linux/arm64] REGISTRY/REPO:TAG
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/ordersaga/ordersaga/internal/images"
)

func main() {
	certs := flag.String("certs", images.DefaultCertificates, "PEM bundle of CA certificates to put in the image")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch of the images in the index")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ordersaga-base [flags] REGISTRY/REPO:TAG")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *certs, *platforms, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "ordersaga-base:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, certsPath, platformList, ref string) error {
	certs, err := images.ReadCertificates(certsPath)
	if err != nil {
		return err
	}
	platforms, err := images.ParsePlatforms(platformList)
	if err != nil {
		return err
	}
	index, err := images.Base(images.BaseOptions{Certificates: certs, Platforms: platforms})
	if err != nil {
		return err
	}
	digest, err := images.PushIndex(ctx, ref, index)
	if err != nil {
		return err
	}
	fmt.Println(digest.String())
	return nil
}
