package function

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
)

// listen returns the socket to serve on: the one the supervisor passed when LISTEN_FDS=1 (the
// systemd socket-activation convention: file descriptor 3, and LISTEN_PID, when set, naming this
// process), or else a new one on HOST:PORT (Knative sets PORT; 8080 by default).
//
// The local stack passes a socket it keeps open across restarts: while a function restarts,
// connections wait in the socket's queue and are answered by the next instance, as Knative's
// activator holds requests during a cold start, instead of being refused.
func listen() (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "1" {
		if pid := os.Getenv("LISTEN_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
			f := os.NewFile(3, "listener")
			if f == nil {
				return nil, errors.New("LISTEN_FDS=1 but file descriptor 3 is not open")
			}
			defer f.Close() // FileListener holds its own copy
			ln, err := net.FileListener(f)
			if err != nil {
				return nil, fmt.Errorf("LISTEN_FDS=1: file descriptor 3 is not a listening socket: %w", err)
			}
			return ln, nil
		}
	}
	port := 8080
	if p := os.Getenv("PORT"); p != "" {
		var err error
		if port, err = strconv.Atoi(p); err != nil || port < 0 || port > 65535 {
			return nil, errors.New("PORT must be a port number")
		}
	}
	return net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), strconv.Itoa(port)))
}
