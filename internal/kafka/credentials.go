package kafka

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// CredentialsFile is where the local stack keeps its principals' passwords, in its data folder.
const CredentialsFile = "kafka-credentials.json"

// Credentials are the passwords of the local stack's Kafka principals: generated on the first
// start, kept 0600 in the data folder, and read by whoever runs there (the stack, ordersctl).
type Credentials struct {
	// Mechanism is the SASL mechanism of every principal (ScramSHA512).
	Mechanism string `json:"mechanism"`
	// Users maps each principal to its password.
	Users map[string]string `json:"users"`
}

// LoadCredentials reads a credentials file. It returns an error wrapping fs.ErrNotExist when
// there is none, and a plain error when it is not a credentials file or is readable by others
// than its owner (it holds passwords: it must be 0600, as EnsureCredentials writes it).
func LoadCredentials(path string) (Credentials, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Credentials{}, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return Credentials{}, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, err
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return Credentials{}, fmt.Errorf("%s: not a Kafka credentials file: %w", path, err)
	}
	if c.Mechanism == "" || len(c.Users) == 0 {
		return Credentials{}, fmt.Errorf("%s: not a Kafka credentials file: no mechanism or no users", path)
	}
	return c, nil
}

// EnsureCredentials returns the credentials in path with a password for every one of users,
// generating (and writing, 0600) those missing: a new file on the first start, and the same
// passwords on every later one. Errors are those of LoadCredentials (but a missing file) and of
// writing the file.
func EnsureCredentials(path string, users ...string) (Credentials, error) {
	c, err := LoadCredentials(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c = Credentials{Mechanism: ScramSHA512, Users: map[string]string{}}
	case err != nil:
		return Credentials{}, err
	}
	changed := false
	for _, u := range users {
		if c.Users[u] == "" {
			c.Users[u] = rand.Text()
			changed = true
		}
	}
	if !changed {
		return c, nil
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return Credentials{}, err
	}
	// Written aside and renamed: a crash never leaves half a file that locks the stack out.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return Credentials{}, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // an old tmp file keeps its mode
		return Credentials{}, err
	}
	return c, os.Rename(tmp, path)
}

// Config is how principal reaches brokers. It returns an error when the file has no such
// principal.
func (c Credentials) Config(brokers []string, principal string) (Config, error) {
	pass, ok := c.Users[principal]
	if !ok {
		names := make([]string, 0, len(c.Users))
		for n := range c.Users {
			names = append(names, n)
		}
		slices.Sort(names)
		return Config{}, fmt.Errorf("no Kafka principal %q in the credentials (have %v)", principal, names)
	}
	return Config{Brokers: brokers, Mechanism: c.Mechanism, Username: principal, Password: pass}, nil
}

// LocalCLIUser is the local stack's principal for ordersctl and the tools that read its topics
// (the load test's watcher): it may read and write the source and broker topics, nothing else.
const LocalCLIUser = "ordersctl"

// LocalClient is how a tool on the local stack's machine (ordersctl, the load test) reaches
// brokers: as LocalCLIUser with the password from the credentials file at path, or anonymous when
// there is no such file (no local stack here; a broker requiring SASL then refuses). Errors are
// those of LoadCredentials but a missing file, and a file without LocalCLIUser.
func LocalClient(brokers []string, path string) (Config, error) {
	creds, err := LoadCredentials(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Config{Brokers: brokers}, nil
	case err != nil:
		return Config{}, err
	}
	c, err := creds.Config(brokers, LocalCLIUser)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
