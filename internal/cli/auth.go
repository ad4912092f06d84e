package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ordersaga/ordersaga/internal/client"
)

// credentials are the --email and --password flags, with --password-stdin and prompts.
type credentials struct {
	email, password string
	passwordStdin   bool
}

func (c *credentials) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.email, "email", "", "the account's email (prompted for on a terminal)")
	cmd.Flags().StringVar(&c.password, "password", "", "the password (env ORDERSCTL_PASSWORD; prompted for on a terminal, else read from stdin)")
	cmd.Flags().BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from stdin (what happens anyway when stdin is not a terminal and no password is given)")
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin")
}

// resolve fills in what the flags left out: ORDERSCTL_PASSWORD, then a prompt on a terminal or
// the first line of stdin otherwise. Reading a piped stdin unasked (as cryptsetup does) makes
// `echo "$PW" | ordersctl login --email X`, and the hint signup prints, work in scripts.
func (a *app) resolve(c *credentials) error {
	in := bufio.NewReader(a.env.Stdin)
	readLine := func() error {
		line, err := in.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read the password from stdin: %w", err)
		}
		c.password = strings.TrimRight(line, "\r\n")
		return nil
	}
	if c.passwordStdin {
		if err := readLine(); err != nil {
			return err
		}
	}
	if c.password == "" {
		c.password = a.env.get("ORDERSCTL_PASSWORD")
	}
	if c.password == "" && a.env.StdinFd < 0 && a.env.Stdin != nil {
		if err := readLine(); err != nil {
			return err
		}
	}
	if c.email == "" && a.env.StdinFd >= 0 {
		fmt.Fprint(a.stderr, "Email: ")
		line, _ := in.ReadString('\n')
		c.email = strings.TrimSpace(line)
	}
	if c.password == "" && a.env.StdinFd >= 0 {
		fmt.Fprint(a.stderr, "Password: ")
		b, err := term.ReadPassword(a.env.StdinFd)
		fmt.Fprintln(a.stderr)
		if err != nil {
			return err
		}
		c.password = string(b)
	}
	if c.email == "" {
		return usagef("--email is required")
	}
	if c.password == "" {
		return usagef("a password is required: --password, ORDERSCTL_PASSWORD or a line on stdin")
	}
	return nil
}

func (a *app) signupCmd() *cobra.Command {
	var c credentials
	var login bool
	cmd := &cobra.Command{
		Use:   "signup",
		Short: "Create an account",
		Long:  "Create an account on the server. Log in afterwards, or pass --login to do both.",
		Example: `  ordersctl signup --email me@example.com --password 'a long passphrase'
  echo "$PASSWORD" | ordersctl signup --email me@example.com --password-stdin --login`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.resolve(&c); err != nil {
				return err
			}
			cl, err := a.newClient()
			if err != nil {
				return err
			}
			u, err := cl.Signup(cmd.Context(), c.email, c.password)
			if err != nil {
				return fmt.Errorf("signup: %w", err)
			}
			if login {
				return a.login(cmd.Context(), cl, c)
			}
			// The hint works as printed: it prompts for the password on a terminal and reads it
			// from stdin otherwise.
			return a.emit(u, func(w io.Writer) {
				fmt.Fprintf(w, "Signed up %s (role %s) on %s.\nNext: %s login --email %s\n", u.Email, u.Role, cl.BaseURL, a.name, u.Email)
			})
		},
	}
	c.flags(cmd)
	cmd.Flags().BoolVar(&login, "login", false, "log in right after signing up")
	return cmd
}

func (a *app) loginCmd() *cobra.Command {
	var c credentials
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in and keep the access token in the config file",
		Long: `Log in to the server and keep the access token in the per-user config file (0600), keyed by
the server's URL: one login per server. Other commands send it as a Bearer token.`,
		Example: `  ordersctl login --email admin@example.com --password admin-password-123
  ordersctl login --server http://gateway.example.com --email me@example.com --password-stdin < pw.txt`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.resolve(&c); err != nil {
				return err
			}
			cl, err := a.newClient()
			if err != nil {
				return err
			}
			return a.login(cmd.Context(), cl, c)
		},
	}
	c.flags(cmd)
	return cmd
}

func (a *app) login(ctx context.Context, cl *client.Client, c credentials) error {
	l, err := cl.Login(ctx, c.email, c.password)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	cfg, path, err := a.loadConfig()
	if err != nil {
		return err
	}
	cfg.Servers[cl.BaseURL] = Login{Email: c.email, AccessToken: l.AccessToken, ExpiresAt: l.ExpiresAt}
	if err := saveConfig(path, cfg); err != nil {
		return fmt.Errorf("save the token: %w", err)
	}
	return a.emit(map[string]any{"server": cl.BaseURL, "email": c.email, "expires_at": l.ExpiresAt, "config": path},
		func(w io.Writer) {
			fmt.Fprintf(w, "Logged in to %s as %s (until %s).\n", cl.BaseURL, c.email, l.ExpiresAt.Local().Format(time.DateTime))
		})
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "logout",
		Short:   "Forget the access token for --server",
		Example: `  ordersctl logout`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.newClient()
			if err != nil {
				return err
			}
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.Servers[cl.BaseURL]; !ok {
				fmt.Fprintf(a.stdout, "Not logged in to %s.\n", cl.BaseURL)
				return nil
			}
			// Tokens are stateless: the server only clears its cookie. Forgetting the token is
			// what logs out, so an unreachable server does not stop it.
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			_ = cl.Logout(ctx)
			delete(cfg.Servers, cl.BaseURL)
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Logged out of %s.\n", cl.BaseURL)
			return nil
		},
	}
}

func (a *app) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the logged-in account",
		Example: `  ordersctl whoami
  ordersctl whoami -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.authedClient()
			if err != nil {
				return err
			}
			u, err := cl.Me(cmd.Context())
			if err != nil {
				return fmt.Errorf("whoami: %w", err)
			}
			return a.emit(u, func(w io.Writer) {
				a.details(w, "Email", u.Email, "Role", u.Role, "ID", u.ID, "Server", cl.BaseURL)
			})
		},
	}
}
