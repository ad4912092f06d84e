package local

import (
	"fmt"
	"os"
)

// prepareDataDir creates the data folder, or tightens an existing one, to 0700: it holds the
// token signing key, the database passwords, the admin's password and the databases themselves,
// none of which anyone else on the machine may read (files inside are 0600 too, but a
// world-readable folder still shows what is there and lets in whatever a bug leaves open).
// As root, startPrivateCluster then opens it to the postgres group for traversal only (0710).
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make the data folder %s private: %w", dir, err)
	}
	return nil
}
