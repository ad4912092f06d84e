package user

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ordersaga/ordersaga/internal/auth"
)

// signingKey returns the private key tokens are signed with: AUTH_PRIVATE_KEY, else the file
// AUTH_PRIVATE_KEY_FILE (a mounted Secret), else the development key kept in AUTH_DEV_KEY_FILE
// (made on first use). Without any of them the function cannot issue tokens and does not start.
func signingKey(cfg Config) (ed25519.PrivateKey, error) {
	switch {
	case cfg.PrivateKey != "" && cfg.PrivateKeyFile != "":
		return nil, errors.New("set AUTH_PRIVATE_KEY or AUTH_PRIVATE_KEY_FILE, not both")
	case cfg.PrivateKey != "":
		key, err := auth.ParsePrivateKeyPEM([]byte(cfg.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("AUTH_PRIVATE_KEY: %w", err)
		}
		return key, nil
	case cfg.PrivateKeyFile != "":
		data, err := os.ReadFile(cfg.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("AUTH_PRIVATE_KEY_FILE: %w", err)
		}
		key, err := auth.ParsePrivateKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("AUTH_PRIVATE_KEY_FILE %s: %w", cfg.PrivateKeyFile, err)
		}
		return key, nil
	case cfg.DevKeyFile != "":
		return devKey(cfg.DevKeyFile)
	default:
		return nil, errors.New("no token signing key: set AUTH_PRIVATE_KEY or AUTH_PRIVATE_KEY_FILE to an Ed25519 " +
			"private key in PKCS #8 PEM form (openssl genpkey -algorithm ed25519), or AUTH_DEV_KEY_FILE to a path " +
			"where a development key may be generated and kept")
	}
}

// devKey reads the development key at path, generating it (mode 0600) when the file does not
// exist. Replicas starting together agree on one key: the file appears atomically with its full
// content (a hard link from a finished temporary file), and whoever loses the race reads the
// winner's.
func devKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		created, werr := writeDevKey(path)
		if werr != nil {
			return nil, fmt.Errorf("AUTH_DEV_KEY_FILE: %w", werr)
		}
		if created {
			slog.Info("generated a development signing key; do not use it in production", "file", path)
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("AUTH_DEV_KEY_FILE: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		slog.Warn("development signing key is readable by others", "file", path, "mode", fi.Mode().Perm().String())
	}
	key, err := auth.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("AUTH_DEV_KEY_FILE %s: %w", path, err)
	}
	return key, nil
}

// writeDevKey makes a key file at path unless one appears first; created says whether it did.
func writeDevKey(path string) (created bool, err error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(dir, ".devkey-*") // mode 0600
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(auth.EncodePrivateKeyPEM(priv)); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil // another replica won
		}
		return false, err
	}
	return true, nil
}
