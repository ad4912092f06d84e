package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the per-user config file: one login per server, keyed by the server's URL. It holds
// access tokens, so it is written with 0600 permissions in a 0700 folder.
type Config struct {
	Servers map[string]Login `json:"servers"`
}

// Login is a stored session on one server.
type Login struct {
	Email       string    `json:"email"`
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func defaultConfigHint() string {
	if p, err := defaultConfigPath(); err == nil {
		return p
	}
	return "$XDG_CONFIG_HOME/ordersaga/config.json"
}

func defaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config folder (%v): use --config or ORDERSCTL_CONFIG", err)
	}
	return filepath.Join(dir, "ordersaga", "config.json"), nil
}

func (a *app) configFile() (string, error) {
	if a.configPath != "" {
		return a.configPath, nil
	}
	if p := a.env.get("ORDERSCTL_CONFIG"); p != "" {
		return p, nil
	}
	return defaultConfigPath()
}

// loadConfig reads the config file; a missing file is an empty config.
func (a *app) loadConfig() (*Config, string, error) {
	path, err := a.configFile()
	if err != nil {
		return nil, "", err
	}
	c := &Config{Servers: map[string]Login{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, path, nil
	}
	if err != nil {
		return nil, path, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, path, fmt.Errorf("config file %s is not valid JSON (%v): fix or delete it, then run %s login", path, err, a.name)
	}
	if c.Servers == nil {
		c.Servers = map[string]Login{}
	}
	return c, path, nil
}

// saveConfig writes c atomically (a temporary file renamed over the old one), 0600.
func saveConfig(path string, c *Config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// serverKey normalises a server URL so that http://Host:8080/ and http://host:8080 share a login.
func serverKey(server string) string {
	u, err := url.Parse(strings.TrimSpace(server))
	if err != nil || u.Host == "" {
		return strings.TrimRight(server, "/")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}
