// Package images is the offline supply chain: the base image the functions' images are built on,
// assembled here from files of this machine (Base), and the checks every built image must pass
// (Check). `make images` (scripts/images.sh) pushes the base to a local registry, builds every
// function with ko on it and records an SBOM per image; the package's test runs that target and
// checks what it built. Nothing here is imported by a function binary.
package images
